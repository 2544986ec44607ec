package io.vmguard.engine.interp.cpu;

/**
 * An exception the guest must take (#PF, #GP, #UD ...), raised while executing an instruction. It unwinds
 * to the step loop, which delivers it through the guest's IDT; it never leaves the engine.
 *
 * <p>No stack trace: faults are part of normal guest operation (demand paging raises thousands).
 */
public final class GuestFault extends RuntimeException {
    public static final int DE = 0, DB = 1, NMI = 2, BP = 3, OF = 4, BR = 5, UD = 6, NM = 7, DF = 8;
    public static final int TS = 10, NP = 11, SS = 12, GP = 13, PF = 14, MF = 16, AC = 17, MC = 18, XM = 19;

    public final int vector;
    public final int errorCode;
    public final boolean hasErrorCode;

    private GuestFault(int vector, int errorCode, boolean hasErrorCode) {
        super(null, null, false, false);
        this.vector = vector;
        this.errorCode = errorCode;
        this.hasErrorCode = hasErrorCode;
    }

    public static GuestFault of(int vector) {
        return new GuestFault(vector, 0, false);
    }

    public static GuestFault withError(int vector, int errorCode) {
        return new GuestFault(vector, errorCode, true);
    }

    public static GuestFault gp(int errorCode) {
        return withError(GP, errorCode);
    }

    public static GuestFault gp() {
        return withError(GP, 0);
    }

    public static GuestFault ud() {
        return of(UD);
    }

    /** Exceptions that push an error code (the rest push none). */
    public static boolean pushesErrorCode(int vector) {
        return vector == DF || vector == TS || vector == NP || vector == SS || vector == GP || vector == PF || vector == AC;
    }

    @Override
    public String getMessage() {
        return "vector " + vector + (hasErrorCode ? " error 0x" + Integer.toHexString(errorCode) : "");
    }
}
