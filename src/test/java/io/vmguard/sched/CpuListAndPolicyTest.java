package io.vmguard.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class CpuListAndPolicyTest {
    @Test
    void cpuListsParseInTheKernelsSyntaxAndPrintMerged() {
        assertEquals("0-1,3", CpuList.parse("0,1,3").toString());
        assertEquals("2-5", CpuList.parse("2-3,4-5").toString());
        assertEquals("1023", CpuList.parse("1023").toString());
    }

    @Test
    void badCpuListsAreRefusedInOneLine() {
        for (String bad : new String[] {"", "a", "1-", "-1", "3-1", "1024", "0,,1", "99999", "1".repeat(300)}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CpuList.parse(bad), bad);
            assertEquals(-1, e.getMessage().indexOf('\n'), e.getMessage());
        }
    }

    @Test
    void threadNamesGiveRoles() {
        assertEquals(ThreadRole.VCPU, ThreadRole.of("vcpu0"));
        assertEquals(ThreadRole.VCPU, ThreadRole.of("vcpu12"));
        assertEquals(ThreadRole.IO, ThreadRole.of("virtio-net0-rx"));
        assertEquals(ThreadRole.IO, ThreadRole.of("e1000-0-rx"));
        assertEquals(ThreadRole.IO, ThreadRole.of("io-block0"));
        assertEquals(ThreadRole.IO, ThreadRole.of("io-blk0"), "virtio-blk's I/O thread");
        assertEquals(ThreadRole.IO, ThreadRole.of("net-rx0"), "virtio-net's receive thread");
        assertEquals(ThreadRole.IO, ThreadRole.of("net-tx1"), "virtio-net's transmit thread");
        assertEquals(ThreadRole.IO, ThreadRole.of("net0-io"));
        assertEquals(ThreadRole.OTHER, ThreadRole.of("vcpu"));
        assertEquals(ThreadRole.OTHER, ThreadRole.of("C2 CompilerThre"));
        assertEquals(ThreadRole.OTHER, ThreadRole.of("watchdog"));
    }

    @Test
    void aRolesOwnAffinityWinsOverTheWholeProcesssInEitherOrder() {
        SchedulingPolicy first = SchedulingPolicy.NONE.withAffinity("vcpu=0").withAffinity("0-1");
        SchedulingPolicy second = SchedulingPolicy.NONE.withAffinity("0-1").withAffinity("vcpu=0");
        for (SchedulingPolicy policy : new SchedulingPolicy[] {first, second}) {
            assertEquals(Optional.of(CpuList.parse("0")), policy.forRole(ThreadRole.VCPU).affinity());
            assertEquals(Optional.of(CpuList.parse("0-1")), policy.forRole(ThreadRole.IO).affinity());
            assertEquals(Optional.of(CpuList.parse("0-1")), policy.forRole(ThreadRole.OTHER).affinity());
        }
    }

    @Test
    void unknownThreadClassesAndNiceValuesOutOfRangeAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SchedulingPolicy.NONE.withAffinity("gpu=0"));
        assertEquals("thread class 'gpu' in 'gpu=0' is not vcpu, io or other", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ThreadPolicy.UNCHANGED.withNice(20));
        assertThrows(IllegalArgumentException.class, () -> ThreadPolicy.UNCHANGED.withNice(-21));
        assertThrows(IllegalArgumentException.class, () -> SchedClass.fromWord("fifo"));
    }

    @Test
    void policiesReadForPeople() {
        SchedulingPolicy policy = SchedulingPolicy.NONE.with(ThreadRole.VCPU,
                ThreadPolicy.UNCHANGED.withNice(10).withSchedClass(SchedClass.IDLE)).withAffinity("io=1");
        assertEquals("vcpu: nice 10, idle; io: CPUs 1", policy.toString());
        assertEquals("host defaults", SchedulingPolicy.NONE.toString());
    }
}
