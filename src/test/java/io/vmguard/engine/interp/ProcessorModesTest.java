package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.cpu.CpuState;
import io.vmguard.engine.interp.cpu.Cpuid;
import io.vmguard.engine.interp.cpu.GuestFault;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/**
 * The interpreter outside 64-bit mode, instruction by instruction: 16-bit addressing, PUSHA/POPA, far
 * calls and returns, segment limits (expand-down too), selector privilege and presence checks, 32-bit
 * paging with 4 KiB and 4 MiB pages, PAE with NX; and the INIT/SIPI states the SMP code starts from.
 * Expected values are worked out from the SDM by hand, not by running the same code again.
 */
class ProcessorModesTest {
    private static final long PG = 0x8000_0000L;

    @Test
    void sixteenBitAddressingFormsUseTheirSegmentsAndWrapAt64KiB() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runReal("""
                    movw $0x1000, %ax
                    movw %ax, %ds
                    movw $0x2000, %ax
                    movw %ax, %ss
                    movw $0x100, %bx
                    movw $0x20, %si
                    movw $0x30, %di
                    movw $0x200, %bp
                    movw $0x1111, (%bx,%si)
                    movw $0x2222, 4(%bx,%di)
                    movw $0x3333, 6(%bp,%si)
                    movw $0x4444, (%bp,%di)
                    movw $0x5555, 0x300(%di)
                    movw $0x6666, 0x1234
                    movw $0x7777, -2(%bp)
                    movw $0x8888, %es:(%bx)
                    movw $0xfff0, %bx
                    movw $0x9999, 0x20(%bx)
                    leaw 0x10(%bx,%si), %ax
                    hlt
                    """, Registers.builder());
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x1111, rig.read16(0x10120), "[BX+SI] in DS");
            assertEquals(0x2222, rig.read16(0x10134), "[BX+DI+4] in DS");
            assertEquals(0x3333, rig.read16(0x20226), "[BP+SI+6] in SS");
            assertEquals(0x4444, rig.read16(0x20230), "[BP+DI] in SS");
            assertEquals(0x5555, rig.read16(0x10330), "[DI+disp16] in DS");
            assertEquals(0x6666, rig.read16(0x11234), "[disp16] in DS");
            assertEquals(0x7777, rig.read16(0x201fe), "[BP-2] in SS");
            assertEquals(0x8888, rig.read16(0x00100), "ES override");
            assertEquals(0x9999, rig.read16(0x10010), "offset 0xfff0 + 0x20 wraps to 0x0010");
            assertEquals(0x0020, rig.machine.vcpu.registers().rax() & 0xffff, "LEA wraps at 16 bits");
        }
    }

    /** INT n in real mode: FLAGS, CS and IP pushed as words, the IVT's CS:IP taken, IF and TF cleared; IRET undoes it. */
    @Test
    void realModeIntGoesThroughTheIvtAndIretComesBack() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runReal("""
                    xorw %ax, %ax
                    movw %ax, %ds
                    movw $0x0100, 0x21 * 4        /* IVT[0x21] = 0900:0100 */
                    movw $0x0900, 0x21 * 4 + 2
                    sti
                    int $0x21
                    pushfw
                    popw %dx
                    cli
                    hlt
                    .org 0x1100                   /* 0900:0100 = 0x9100 = CODE + 0x1100 */
                    pushfw
                    popw %cx
                    movw %sp, %si
                    movw %ss:(%si), %ax           /* IP */
                    movw %ss:2(%si), %bx          /* CS */
                    movw %ss:4(%si), %di          /* FLAGS */
                    iret
                    """, Registers.builder());
            assertInstanceOf(VcpuExit.Halt.class, exit);
            Registers r = rig.machine.vcpu.registers();
            assertEquals(0x13, r.rax() & 0xffff, "IP pushed: after the INT, 0x13 bytes in");
            assertEquals(0x800, r.rbx() & 0xffff, "CS pushed");
            assertEquals(0x200, r.rdi() & 0x200, "FLAGS pushed with IF set");
            assertEquals(0, r.rcx() & 0x300, "IF and TF clear in the handler");
            assertEquals(0x200, r.rdx() & 0x200, "IF back after IRET");
            assertEquals(0x7000, r.rsp() & 0xffff);
            assertEquals(0xf4, rig.machine.memory.readByte(ModeRig.CODE + r.rip() - 1) & 0xff, "stopped at the HLT after IRET");
        }
    }

    @Test
    void pushaAndPopaSaveEveryRegisterInOrderWithTheOriginalStackPointer() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runProtected("""
                    movl $1, %eax
                    movl $2, %ecx
                    movl $3, %edx
                    movl $4, %ebx
                    movl $5, %ebp
                    movl $6, %esi
                    movl $7, %edi
                    pushal
                    movl %esp, 0x600
                    xorl %eax, %eax
                    xorl %ebx, %ebx
                    xorl %edi, %edi
                    popal
                    hlt
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x7000 - 32, rig.read32(0x600));
            int[] expected = {7, 6, 5, 0x7000, 4, 3, 2, 1}; // EDI ESI EBP ESP EBX EDX ECX EAX, lowest first
            for (int i = 0; i < 8; i++) {
                assertEquals(expected[i], rig.read32(0x7000 - 32 + 4L * i), "PUSHAD slot " + i);
            }
            Registers r = rig.machine.vcpu.registers();
            assertEquals(1, r.rax());
            assertEquals(4, r.rbx());
            assertEquals(7, r.rdi());
            assertEquals(0x7000, r.rsp());
        }
    }

    @Test
    void farCallPushesCsAndEipAndFarReturnComesBack() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runProtected("""
                    lcall $0x08, $0x8100
                    movl %eax, 0x610
                    hlt
                    .org 0x100
                    movl (%esp), %eax
                    movl %eax, 0x600
                    movl 4(%esp), %eax
                    movl %eax, 0x604
                    movl $0xabcd, %eax
                    lret
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x8007, rig.read32(0x600), "return EIP: after the 7-byte CALL ptr16:32");
            assertEquals(ModeRig.CODE32, rig.read32(0x604) & 0xffff, "CS pushed");
            assertEquals(0xabcd, rig.read32(0x610));
            assertEquals(0x7000, rig.machine.vcpu.registers().rsp());
        }
    }

    @Test
    void realModeFarCallLoadsCsAsAParagraph() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runReal("""
                    lcallw $0x0900, $0x0010
                    movw %cs, %bx
                    hlt
                    .org 0x1010
                    movw %cs, %dx
                    movw (%esp), %cx
                    lretw
                    """, Registers.builder());
            assertInstanceOf(VcpuExit.Halt.class, exit);
            Registers r = rig.machine.vcpu.registers();
            assertEquals(0x900, r.rdx() & 0xffff, "CS in the callee");
            assertEquals(5, r.rcx() & 0xffff, "IP pushed: after the 5-byte CALL ptr16:16");
            assertEquals(0x800, r.rbx() & 0xffff, "CS back");
        }
    }

    @Test
    void anAccessReachingBeyondTheLimitIsAGeneralProtectionFault() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.descriptor(0x18, 0x0040_9301_0000_0fffL); // base 0x10000, limit 0xfff, byte granular
            VcpuExit exit = rig.runProtected("""
                    movw $0x18, %ax
                    movw %ax, %ds
                    movl $0x55, 0xffc
                    movl $0x66, 0xffe
                    hlt
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x55, rig.read32(0x10ffc), "the last dword inside the limit, at base + offset");
            assertEquals(GuestFault.GP, rig.faultVector());
            assertEquals(0, rig.faultError());
            assertEquals(0x55, rig.read32(0x10ffc), "the straddling store wrote nothing");
            assertEquals(0x8010, rig.read32(ModeRig.FAULT + 8), "EIP of the faulting MOV (after 4 + 2 + 10 bytes)");
        }
    }

    @Test
    void anExpandDownSegmentHoldsOnlyTheOffsetsAboveItsLimit() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.descriptor(0x18, 0x0040_9700_0000_3fffL); // expand-down, limit 0x3fff, B set: 0x4000 up to 4 GiB
            VcpuExit exit = rig.runProtected("""
                    movw $0x18, %ax
                    movw %ax, %ds
                    movl $0x11, 0x4000
                    movl $0x22, 0x20000
                    movl $0x33, 0x3ffc
                    hlt
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x11, rig.read32(0x4000), "just above the limit");
            assertEquals(0x22, rig.read32(0x20000));
            assertEquals(GuestFault.GP, rig.faultVector(), "0x3ffc is at or below the limit: #GP");
            assertEquals(0, rig.faultError());
            assertEquals(0, rig.read32(0x3ffc));
        }
    }

    @Test
    void segmentLoadsCheckPrivilegePresenceAndNull() throws Exception {
        String[] loads = {
            "movw $0x13, %ax\nmovw %ax, %ds", // RPL 3 > DPL 0
            "movw $0x18, %ax\nmovw %ax, %es", // not present
            "xorw %ax, %ax\nmovw %ax, %ss",   // null SS outside long mode
            "movw $0x08, %ax\nmovw %ax, %ss", // code segment as a stack
        };
        int[][] expected = {{GuestFault.GP, 0x10}, {GuestFault.NP, 0x18}, {GuestFault.GP, 0}, {GuestFault.GP, 0x08}};
        for (int i = 0; i < loads.length; i++) {
            try (ModeRig rig = new ModeRig()) {
                rig.descriptor(0x18, 0x00cf_1300_0000_ffffL); // data, P clear
                VcpuExit exit = rig.runProtected(loads[i] + "\nhlt\n", Registers.builder(), 0, 0, 0, 0);
                assertInstanceOf(VcpuExit.Halt.class, exit);
                assertEquals(expected[i][0], rig.faultVector(), loads[i]);
                assertEquals(expected[i][1], rig.faultError(), loads[i]);
            }
        }
    }

    /** LLDT loads an LDT from the GDT; a selector with TI set then names its descriptors. */
    @Test
    void selectorsWithTheTableBitComeFromTheLdt() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.descriptor(0x18, 0x0000_8200_5000_000fL); // LDT at 0x5000, two descriptors
            rig.write64(0x5008, 0x0040_9301_0000_ffffL);  // LDT entry 1: data at 0x10000
            VcpuExit exit = rig.runProtected("""
                    movw $0x18, %ax
                    lldt %ax
                    movw $0x0c, %ax           /* index 1, TI */
                    movw %ax, %es
                    movl $0x4c445421, %es:0x20
                    movw $0x14, %ax           /* index 2, TI: beyond the LDT's limit */
                    movw %ax, %fs
                    hlt
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x4c445421, rig.read32(0x10020), "ES from the LDT: base 0x10000");
            assertEquals(GuestFault.GP, rig.faultVector());
            assertEquals(0x14, rig.faultError(), "the selector beyond the LDT");
            assertEquals(0x18, rig.machine.vcpu.specialRegisters().ldt().selector());
        }
    }

    @Test
    void thirtyTwoBitPagingMapsFourKibAndFourMibPagesAndSetsAccessedAndDirty() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            long pd = 0x20000, pt = 0x21000, pt2 = 0x22000;
            rig.write32(pd, (int) (pt | 3));
            for (int i = 0; i < 64; i++) {
                rig.write32(pt + 4L * i, (i << 12) | 3); // identity: the first 256 KiB
            }
            rig.write32(pd + 4, 0x83);                  // 4 MiB at 0x400000 -> physical 0
            rig.write32(pd + 8, (int) (pt2 | 3));       // 0x800000 -> page table 2
            rig.write32(pt2, 0x31000 | 3);              // 0x800000 -> physical 0x31000
            VcpuExit exit = rig.runProtected("""
                    movl $0x12345678, 0x430000
                    movl $0x9abcdef0, 0x800010
                    movl 0x800010, %ebx
                    movl 0xc00000, %ecx
                    hlt
                    """, Registers.builder(), PG, pd, 0x10 /* PSE */, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x12345678, rig.read32(0x30000), "through the 4 MiB page");
            assertEquals(0x9abcdef0, rig.read32(0x31010), "through the 4 KiB page");
            assertEquals(0x9abcdef0, (int) rig.machine.vcpu.registers().rbx());
            assertEquals(0x31000 | 3 | 0x20 | 0x40, rig.read32(pt2), "PTE accessed and dirty");
            assertEquals(0x83 | 0x20 | 0x40, rig.read32(pd + 4), "4 MiB PDE accessed and dirty");
            assertEquals(GuestFault.PF, rig.faultVector(), "0xc00000 is not mapped");
            assertEquals(0, rig.faultError(), "a supervisor read of a not-present page");
            assertEquals(0xc00000, rig.machine.vcpu.specialRegisters().cr2());
        }
    }

    @Test
    void paePagingLoadsPdptesFromCr3AndHonoursNx() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            long pdpt = 0x20000, pd = 0x21000, pt = 0x22000;
            rig.write64(pdpt, pd | 1);
            rig.write64(pd, pt | 3);
            for (int i = 0; i < 64; i++) {
                rig.write64(pt + 8L * i, ((long) i << 12) | 3);
            }
            rig.write64(pd + 16, 0x83L | (1L << 63)); // 2 MiB at 0x400000 -> physical 0, no execute
            VcpuExit exit = rig.runProtected("""
                    movl $0x20000, %eax
                    movl %eax, %cr3
                    movl $0x13572468, 0x430000
                    movl $0x408000, %eax
                    jmp *%eax
                    """, Registers.builder(), PG, pdpt, 0x20 /* PAE */, 0x800 /* NXE */);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x13572468, rig.read32(0x30000), "through the 2 MiB page");
            assertEquals(GuestFault.PF, rig.faultVector(), "fetch from an NX page");
            assertEquals(0x11, rig.faultError(), "present, instruction fetch");
            assertEquals(0x408000, rig.machine.vcpu.specialRegisters().cr2());
        }
    }

    /**
     * Ring 0 IRETs to ring 3 (32-bit protected mode); ring 3's INT 0x80 comes back to ring 0 on the stack
     * the 32-bit TSS names (the old SS:ESP pushed), and its SYSENTER too, and SYSEXIT returns.
     */
    @Test
    void ringThreeReachesRingZeroThroughTheTssStackAndSysenter() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.descriptor(0x18, 0x00cf_fb00_0000_ffffL); // ring-3 code
            rig.descriptor(0x20, 0x00cf_f300_0000_ffffL); // ring-3 data
            rig.descriptor(0x28, 0x0000_8900_4000_0067L); // 32-bit TSS at 0x4000
            rig.write32(0x4004, 0x6000);                   // ESP0
            rig.write32(0x4008, ModeRig.DATA32);           // SS0
            rig.gate(0x80, 0x8200, 3);
            rig.gate(0x81, 0x8300, 3);
            VcpuExit exit = rig.runProtected("""
                    movw $0x28, %ax
                    ltr %ax
                    movl $0x174, %ecx     /* SYSENTER_CS, EIP, ESP */
                    movl $0x08, %eax
                    xorl %edx, %edx
                    wrmsr
                    movl $0x176, %ecx
                    movl $0x8400, %eax
                    wrmsr
                    movl $0x175, %ecx
                    movl $0x6800, %eax
                    wrmsr
                    pushl $0x23
                    pushl $0x5800
                    pushfl
                    pushl $0x1b
                    pushl $0x8100
                    iret
                    .org 0x100              /* ring 3 */
                    movw $0x23, %ax
                    movw %ax, %ds
                    movl $0x1234, %eax
                    int $0x80
                    movl %eax, 0x640
                    movl $0x8180, %edx
                    movl %esp, %ecx
                    sysenter
                    .org 0x180
                    movw %cs, %bx
                    movl %ebx, 0x648
                    int $0x81
                    .org 0x200              /* INT 0x80, ring 0 */
                    movl %esp, %ss:0x600
                    movl 0(%esp), %ebx
                    movl %ebx, %ss:0x604
                    movl 4(%esp), %ebx
                    movl %ebx, %ss:0x608
                    movl 12(%esp), %ebx
                    movl %ebx, %ss:0x60c
                    movl 16(%esp), %ebx
                    movl %ebx, %ss:0x610
                    incl %eax
                    iret
                    .org 0x300              /* INT 0x81: the end */
                    hlt
                    .org 0x400              /* SYSENTER target, ring 0 */
                    movl %esp, %ss:0x620
                    movw %cs, %bx
                    movl %ebx, %ss:0x624
                    sysexit
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0, rig.faultVector(), "no fault on the way (vector 0 slot untouched)");
            assertEquals(0x6000 - 20, rig.read32(0x600), "INT 0x80 frame on the TSS's ring-0 stack");
            assertEquals(0x810d, rig.read32(0x604), "return EIP: after 4 + 2 + 5 + 2 bytes of ring-3 code");
            assertEquals(0x1b, rig.read32(0x608) & 0xffff, "user CS");
            assertEquals(0x5800, rig.read32(0x60c), "user ESP");
            assertEquals(0x23, rig.read32(0x610) & 0xffff, "user SS");
            assertEquals(0x1235, rig.read32(0x640), "EAX back from the handler, in ring 3");
            assertEquals(0x6800, rig.read32(0x620), "SYSENTER_ESP");
            assertEquals(0x08, rig.read32(0x624) & 0xffff, "SYSENTER_CS");
            assertEquals(0x1b, rig.read32(0x648) & 0xffff, "SYSEXIT: SYSENTER_CS + 16, RPL 3");
        }
    }

    /**
     * Compatibility mode under a 64-bit kernel, as Linux's IA32 emulation uses it: IRETQ to 32-bit ring-3
     * code, INT 0x80 from it through the 64-bit IDT (and IRETQ back), SYSCALL from it to CSTAR (not LSTAR)
     * and SYSRETL back to 32-bit code.
     */
    @Test
    void compatibilityModeCodeEntersAndLeavesA64BitKernel() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            rig.gate64(0x80, 0x8200, 3);
            rig.gate64(0x81, 0x8300, 3);
            VcpuExit exit = rig.runLong("""
                    movl $0xc0000081, %ecx    /* STAR: SYSRET base 0x18, SYSCALL CS 0x30 */
                    xorl %eax, %eax
                    movl $0x00180030, %edx
                    wrmsr
                    movl $0xc0000083, %ecx    /* CSTAR */
                    movl $0x8400, %eax
                    xorl %edx, %edx
                    wrmsr
                    movl $0xc0000082, %ecx    /* LSTAR: must not be taken */
                    movl $0x8500, %eax
                    wrmsr
                    pushq $0x23
                    pushq $0x5800
                    pushq $2
                    pushq $0x1b
                    pushq $0x8100
                    iretq
                    .code32
                    .org 0x100                /* ring 3, 32-bit */
                    movw $0x23, %ax
                    movw %ax, %ds
                    movw %ax, %es
                    movl $7, %eax
                    int $0x80
                    movl %eax, 0x640
                    pushl $0x11223344         /* a 32-bit push: 4 bytes */
                    popl %ebx
                    movl %esp, 0x644
                    syscall
                    movl %eax, 0x648
                    movw %cs, %ax
                    movl %eax, 0x64c
                    int $0x81
                    .code64
                    .org 0x200                /* INT 0x80, 64-bit ring 0 */
                    movq %rsp, 0x600
                    movq 8(%rsp), %rbx
                    movq %rbx, 0x608
                    movq 24(%rsp), %rbx
                    movq %rbx, 0x610
                    incl %eax
                    iretq
                    .org 0x300
                    hlt
                    .org 0x400                /* CSTAR */
                    movq %rcx, 0x620
                    movw %cs, %bx
                    movq %rbx, 0x628
                    movl $0x99, %eax
                    sysretl
                    .org 0x500                /* LSTAR */
                    movl $0xbad, 0x620
                    hlt
                    """);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x6000 - 40, rig.read32(0x600), "INT 0x80 frame on RSP0 (5 quadwords)");
            assertEquals(0x1b, rig.read32(0x608) & 0xffff, "CS of the 32-bit caller");
            assertEquals(0x5800, rig.read32(0x610), "its ESP");
            assertEquals(8, rig.read32(0x640), "EAX back in compatibility mode");
            assertEquals(0x5800, rig.read32(0x644), "PUSH/POP of 4 bytes each in 32-bit code");
            assertEquals(0x8122, rig.read32(0x620), "SYSCALL from 32-bit code went to CSTAR, ECX = the next EIP (0x22 bytes into the 32-bit code)");
            assertEquals(0x30, rig.read32(0x628) & 0xffff, "SYSCALL CS");
            assertEquals(0x99, rig.read32(0x648), "SYSRETL returned to 32-bit code");
            assertEquals(0x1b, rig.read32(0x64c) & 0xffff, "SYSRETL CS: STAR[63:48] | 3");
        }
    }

    /**
     * A vCPU paused in real mode and restored on another machine goes on in real mode: its code still
     * decodes as 16-bit code (0x40 is INC AX there, a REX prefix in 64-bit mode) at CS base + IP.
     */
    @Test
    void aSnapshotTakenInRealModeGoesOnInRealMode() throws Exception {
        String counter = """
                movw $0x1000, %bx
                movw %bx, %ds
                xorw %ax, %ax
                1: incw %ax
                movw %ax, 0x600
                jmp 1b
                """;
        try (ModeRig first = new ModeRig(); ModeRig second = new ModeRig()) {
            assertEquals(VcpuExit.Interrupted.class, runUntil(first, () -> first.read16(0x10600) != 0,
                    () -> first.runReal(counter, Registers.builder())).getClass());
            int before = first.read16(0x10600);
            assertTrue(before > 0, "counted in the first machine");
            io.vmguard.snapshot.StateWriter out = io.vmguard.snapshot.StateWriter.root();
            first.machine.vcpu.saveState(out);
            com.fasterxml.jackson.databind.ObjectMapper json = new com.fasterxml.jackson.databind.ObjectMapper();
            second.machine.vcpu.restoreState(io.vmguard.snapshot.StateReader.of(json.readTree(json.writeValueAsString(out.tree()))));
            byte[] ram = first.machine.memory.readBytes(0, 0x20000);
            second.machine.memory.write(0, ram);
            assertEquals(first.machine.vcpu.specialRegisters(), second.machine.vcpu.specialRegisters());
            assertEquals(VcpuExit.Interrupted.class,
                    runUntil(second, () -> second.read16(0x10600) != before, second.machine.vcpu::run).getClass());
            int after = second.read16(0x10600);
            assertTrue(after != before, "went on counting after the restore: " + before + " then " + after);
            assertEquals(0x1000, second.machine.vcpu.specialRegisters().ds().selector());
            assertEquals(0x10000, second.machine.vcpu.specialRegisters().ds().base());
        }
    }

    private interface Run {
        VcpuExit run() throws Exception;
    }

    /**
     * Runs until a pause requested once {@code counted} holds (polled from another thread), so that a loaded
     * host, which may keep the vCPU off its core for longer than any fixed delay, cannot stop it early.
     */
    private static VcpuExit runUntil(ModeRig rig, BooleanSupplier counted, Run run) throws Exception {
        Thread pause = Thread.ofVirtual().start(() -> {
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (!counted.getAsBoolean() && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
            } catch (InterruptedException e) {
                return;
            } finally {
                rig.machine.vcpu.requestExit();
            }
        });
        try {
            return run.run();
        } finally {
            pause.join();
        }
    }

    /**
     * Out of long mode the way in, backwards: LRETQ from 64-bit code to 32-bit code (compatibility mode),
     * CR0.PG cleared there (EFER.LMA goes with it, LME stays), then legacy protected mode without paging.
     */
    @Test
    void compatibilityModeCodeLeavesLongModeByClearingPaging() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runLong("""
                    pushq $0x08
                    pushq $0x8100
                    lretq
                    .code32
                    .org 0x100
                    movl %cr0, %eax
                    andl $0x7fffffff, %eax
                    movl %eax, %cr0
                    movl $0xc0000080, %ecx
                    rdmsr
                    movl %eax, 0x600
                    movw $0x10, %ax
                    movw %ax, %ds
                    pushl $0x11111111
                    popl 0x604
                    hlt
                    """);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            assertEquals(0x100, rig.read32(0x600) & 0x500, "EFER.LME still set, LMA clear");
            assertEquals(0x11111111, rig.read32(0x604), "32-bit pushes and pops after leaving long mode");
            var s = rig.machine.vcpu.specialRegisters();
            assertEquals(0, s.cr0() & PG);
            assertEquals(ModeRig.CODE32, s.cs().selector());
        }
    }

    /** LES and LSS load far pointers; SGDT stores a 4-byte base outside 64-bit mode; SMSW; INTO on overflow. */
    @Test
    void farPointerLoadsTableStoresAndIntoWork() throws Exception {
        try (ModeRig rig = new ModeRig()) {
            VcpuExit exit = rig.runProtected("""
                    movl $0x12345678, 0x700
                    movw $0x10, 0x704
                    movl $0x6ff0, 0x708
                    movw $0x10, 0x70c
                    lesl 0x700, %ecx
                    lssl 0x708, %esp
                    sgdtl 0x710
                    smsw %dx
                    movl $0x7fffffff, %ebx
                    into
                    addl $1, %ebx
                    into
                    hlt
                    """, Registers.builder(), 0, 0, 0, 0);
            assertInstanceOf(VcpuExit.Halt.class, exit);
            Registers r = rig.machine.vcpu.registers();
            assertEquals(0x12345678, r.rcx());
            assertEquals(0x6ff0 - 8, r.rsp(), "LSS's ESP, less the CS and EFLAGS the handler leaves of the #OF frame");
            assertEquals(0xff, rig.read16(0x710), "GDT limit");
            assertEquals(ModeRig.GDT, rig.read32(0x712), "GDT base, 4 bytes");
            assertEquals(0x11, r.rdx() & 0xffff, "SMSW: PE and ET");
            assertEquals(GuestFault.OF, rig.faultVector(), "the second INTO, after the overflow");
            assertEquals(0, rig.faultError());
            assertEquals(0x8048, rig.read32(ModeRig.FAULT + 8), "#OF is a trap: EIP after the second INTO");
        }
    }

    @Test
    void initAndStartupIpiStatesAreTheSdms() {
        CpuState cpu = new CpuState();
        cpu.cr0 = 0x8005_0033L;
        cpu.efer = 0xd01;
        cpu.gpr[CpuState.RAX] = 42;
        cpu.resetForInit();
        assertEquals(0x6000_0010L, cpu.cr0);
        assertEquals(0, cpu.efer);
        assertEquals(0, cpu.gpr[CpuState.RAX]);
        int[] leaf1 = new int[4];
        Cpuid.query(1, 0, 0, leaf1);
        assertEquals(leaf1[0], (int) cpu.gpr[CpuState.RDX], "EDX: the signature CPUID leaf 1 reports");
        assertEquals(0xfff0, cpu.rip);
        assertEquals(0xffff_0000L, cpu.segments[CpuState.CS].base());
        assertEquals(0xf000, cpu.segments[CpuState.CS].selector());
        assertEquals(2, cpu.rflags());
        assertEquals(16, cpu.codeBits);
        assertEquals(0xffff_fff0L, cpu.codeLinear(cpu.rip), "the reset vector");
        cpu.startupAt(0x9a);
        Segment cs = cpu.segments[CpuState.CS];
        assertEquals(0x9a00, cs.selector());
        assertEquals(0x9a000, cs.base());
        assertEquals(0xffff, cs.limit());
        assertEquals(0, cpu.rip);
        assertEquals(0x9a000, cpu.codeLinear(cpu.rip));
        assertEquals(true, cpu.realMode());
    }
}
