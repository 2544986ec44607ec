package io.vmguard.engine.monitor;

/** The kinds of guest actions an engine may be able to stop on before the guest's next instruction. */
public enum TrapKind {
    /** A guest write (by a vCPU) to a watched guest-physical frame, through any virtual alias. */
    PHYSICAL_WRITE,
    /** MOV to a watched control register. */
    CONTROL_REGISTER_WRITE,
    /** WRMSR to a watched MSR. */
    MSR_WRITE,
    /** LGDT or LIDT. */
    DESCRIPTOR_TABLE_LOAD,
    /** SYSCALL with a watched system-call number (RAX). */
    SYSTEM_CALL,
    /**
     * The first instruction fetched from a guest-physical frame since its content last changed (by a vCPU or a
     * device), or ever: asked before that instruction runs ({@link MonitorListener#beforeExecution}).
     */
    CODE_EXECUTION
}
