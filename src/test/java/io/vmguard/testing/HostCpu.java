package io.vmguard.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The vendor of the CPU this test JVM runs on, which is the CPU that executes KVM's guest ring 3 natively and
 * so the oracle of the differential tests. The interpreter models an Intel CPU (its CPUID says GenuineIntel);
 * where AMD processors architecturally differ, a differential test must know which one it is comparing with.
 *
 * <p>Read from the CPUID vendor string as the kernel reports it ({@code vendor_id} in /proc/cpuinfo, CPUID
 * leaf 0 EBX:EDX:ECX). {@code -Dvmguard.hostVendor=GenuineIntel|AuthenticAMD|...} overrides it, e.g. to see
 * on an AMD host the raw disagreements the vendor rules would otherwise account for.
 */
public final class HostCpu {
    private HostCpu() {}

    public enum Vendor {
        INTEL,
        /** AuthenticAMD, and HygonGenuine (Hygon's processors are AMD Zen cores and follow the AMD64 manuals). */
        AMD,
        /** Any other vendor string, or none found: no vendor rule applies, every disagreement counts. */
        OTHER
    }

    private static final String PROPERTY = "vmguard.hostVendor";
    private static final Path CPUINFO = Path.of("/proc/cpuinfo");
    private static String vendorId;

    /** The CPUID vendor string ("GenuineIntel", "AuthenticAMD", ...), or "unknown". */
    public static synchronized String vendorId() {
        if (vendorId == null) {
            String override = System.getProperty(PROPERTY);
            vendorId = override != null && !override.isBlank() ? override.strip() : readCpuinfo();
        }
        return vendorId;
    }

    public static Vendor vendor() {
        return vendorOf(vendorId());
    }

    public static boolean isAmd() {
        return vendor() == Vendor.AMD;
    }

    static Vendor vendorOf(String id) {
        return switch (id.toLowerCase(Locale.ROOT)) {
            case "genuineintel", "intel" -> Vendor.INTEL;
            case "authenticamd", "hygongenuine", "amd" -> Vendor.AMD;
            default -> Vendor.OTHER;
        };
    }

    private static String readCpuinfo() {
        try {
            for (String line : Files.readAllLines(CPUINFO)) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).strip().equals("vendor_id")) {
                    return line.substring(colon + 1).strip();
                }
            }
        } catch (IOException | RuntimeException e) {
            // no /proc (not Linux): no vendor rules
        }
        return "unknown";
    }
}
