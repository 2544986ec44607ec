package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.testing.HostCpu.Vendor;
import org.junit.jupiter.api.Test;

/** The host vendor the differential tests' AMD/Intel rules key on. */
class HostCpuTest {
    @Test
    void cpuidVendorStringsMapToTheirVendor() {
        assertEquals(Vendor.INTEL, HostCpu.vendorOf("GenuineIntel"));
        assertEquals(Vendor.AMD, HostCpu.vendorOf("AuthenticAMD"));
        assertEquals(Vendor.AMD, HostCpu.vendorOf("HygonGenuine"), "Hygon: AMD Zen cores");
        assertEquals(Vendor.OTHER, HostCpu.vendorOf("CentaurHauls"), "no rule for other vendors: every difference counts");
        assertEquals(Vendor.OTHER, HostCpu.vendorOf("unknown"));
    }

    @Test
    void theVendorIsTheOneTheKernelReports() throws Exception {
        String property = System.getProperty("vmguard.hostVendor");
        java.nio.file.Path cpuinfo = java.nio.file.Path.of("/proc/cpuinfo");
        if (property == null && java.nio.file.Files.isReadable(cpuinfo)) {
            String line = java.nio.file.Files.readAllLines(cpuinfo).stream().filter(l -> l.startsWith("vendor_id"))
                    .findFirst().orElse("vendor_id : unknown");
            assertEquals(line.substring(line.indexOf(':') + 1).strip(), HostCpu.vendorId());
        }
    }
}
