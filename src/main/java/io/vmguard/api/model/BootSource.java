package io.vmguard.api.model;

/** {@code PUT /boot-source}: the kernel (ELF vmlinux or bzImage), an optional initrd and command line. */
public record BootSource(String kernelImagePath, String initrdPath, String bootArgs) {
    public BootSource {
        Fields.required(kernelImagePath, "kernel_image_path");
        Fields.notBlank(initrdPath, "initrd_path");
    }
}
