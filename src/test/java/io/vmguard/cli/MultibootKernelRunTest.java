package io.vmguard.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.vmguard.testing.HostTool;
import io.vmguard.testing.PayloadAssembler;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Multiboot v1 kernel (src/test/c/multiboot: 32-bit C and assembly, built here with gcc -m32) run by
 * {@code vmguard run --kernel} under the interpreter (and under KVM where it exists): it checks the magic, the information's memory sizes
 * against its memory map and its command line, reports on COM1 and powers off through port 0xf4 with 0
 * only when every check held.
 */
class MultibootKernelRunTest {
    @TempDir
    Path work;

    @ParameterizedTest
    @ValueSource(strings = {"interp", "kvm"})
    void multibootKernelGetsItsMemoryMapAndCommandLineAndReportsThroughCom1(String engine) throws Exception {
        if (engine.equals("kvm")) {
            Path kvm = Path.of("/dev/kvm");
            assumeTrue(Files.isReadable(kvm) && Files.isWritable(kvm), "/dev/kvm is absent or not usable: no KVM run");
        }
        Path kernel = build();
        Path serial = work.resolve("serial.txt");
        int status = Main.execute("run", "--kernel", kernel.toString(), "--engine", engine, "--memory", "64M",
                "--cmdline", "console=ttyS0 mbtest=42", "--serial", "file:" + serial);
        String output = Files.readString(serial);
        assertEquals(0, status, "exit status; the kernel said:\n" + output);
        assertTrue(output.contains("multiboot: all checks passed"), output);
        assertTrue(output.contains("mem_upper=" + ((64 << 10) - 1024)), output); // 64 MiB of RAM, from 1 MiB up
        assertTrue(output.contains("cmdline=console=ttyS0 mbtest=42"), output);
        assertTrue(output.contains("loader=vmguard"), output);
    }

    @Test
    void aKernelWhoseHeaderAsksForVideoIsRefusedInOneLine() throws Exception {
        Path kernel = build();
        byte[] bytes = Files.readAllBytes(kernel);
        int header = indexOfMagic(bytes);
        bytes[header + 4] |= 4; // flags: video mode
        bytes[header + 8] -= 4; // keep the checksum right
        Path video = work.resolve("video.elf");
        Files.write(video, bytes);
        assertEquals(Main.EXIT_FAILURE, Main.execute("run", "--kernel", video.toString(), "--engine", "interp", "--memory", "64M"));
    }

    private static int indexOfMagic(byte[] bytes) {
        for (int i = 0; i + 4 <= bytes.length; i += 4) {
            if ((bytes[i] & 0xff) == 0x02 && (bytes[i + 1] & 0xff) == 0xb0 && (bytes[i + 2] & 0xff) == 0xad && (bytes[i + 3] & 0xff) == 0x1b) {
                return i;
            }
        }
        throw new AssertionError("no Multiboot magic in the test kernel");
    }

    private Path build() throws Exception {
        Path base = Path.of(System.getProperty("basedir", System.getProperty("user.dir"))).resolve("src/test/c/multiboot");
        Path gcc = HostTool.require("gcc", "Debian: apt-get install gcc (builds the Multiboot test kernel)");
        Path object = work.resolve("kernel.o");
        Path entry = work.resolve("entry.o");
        Path elf = work.resolve("multiboot.elf");
        PayloadAssembler.run(gcc.toString(), "-m32", "-ffreestanding", "-fno-pic", "-fno-stack-protector", "-O2", "-Wall",
                "-Wextra", "-Werror", "-c", base.resolve("kernel.c").toString(), "-o", object.toString());
        PayloadAssembler.run("as", "--32", base.resolve("entry.S").toString(), "-o", entry.toString());
        PayloadAssembler.run("ld", "-m", "elf_i386", "-nostdlib", "-static", "--build-id=none", "--no-warn-rwx-segments",
                "-z", "noexecstack", "-T", base.resolve("kernel.ld").toString(), entry.toString(), object.toString(), "-o", elf.toString());
        return elf;
    }
}
