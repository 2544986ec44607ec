package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a file's path from its {@code struct path} (vfsmount + dentry) the way d_path does, climbing
 * d_parent to the mount's root and then from the mount to its mountpoint in the parent mount, until the
 * root of the mount tree. Bounded in depth and name length.
 */
final class DentryPath {
    private static final int DEPTH_LIMIT = 256;
    private static final int NAME_MAX = 255;

    private final KernelContext kernel;

    DentryPath(KernelContext kernel) {
        this.kernel = kernel;
    }

    /** The path of the {@code struct path} at {@code path}. */
    String of(long path) throws VmiException {
        long vfsmount = kernel.pointer(path, "path", "mnt");
        long dentry = kernel.pointer(path, "path", "dentry");
        return build(vfsmount, GuestPointers.kernel(dentry, "dentry"));
    }

    private String build(long vfsmount, long dentry) throws VmiException {
        boolean mounts = vfsmount != 0 && kernel.types().hasStruct("mount");
        long mount = mounts ? vfsmount - kernel.offset("mount", "mnt") : 0;
        List<String> names = new ArrayList<>();
        for (int depth = 0; depth < DEPTH_LIMIT; depth++) {
            if (mounts && dentry == kernel.pointer(vfsmount, "vfsmount", "mnt_root")) {
                long parent = kernel.pointer(mount, "mount", "mnt_parent");
                if (parent == mount || parent == 0) {
                    return join(names);
                }
                dentry = GuestPointers.kernel(kernel.pointer(mount, "mount", "mnt_mountpoint"), "mountpoint");
                mount = GuestPointers.kernel(parent, "parent mount");
                vfsmount = mount + kernel.offset("mount", "mnt");
                continue;
            }
            long parent = kernel.pointer(dentry, "dentry", "d_parent");
            if (parent == dentry || parent == 0) {
                return join(names);
            }
            long name = kernel.pointer(dentry, "dentry", "d_name.name");
            names.add(kernel.memory().readCString(GuestPointers.kernel(name, "dentry name"), NAME_MAX));
            dentry = GuestPointers.kernel(parent, "d_parent");
        }
        throw new VmiException("path deeper than " + DEPTH_LIMIT + " components", dentry);
    }

    private static String join(List<String> names) {
        StringBuilder path = new StringBuilder();
        for (String name : names.reversed()) {
            path.append('/').append(name);
        }
        return path.isEmpty() ? "/" : path.toString();
    }
}
