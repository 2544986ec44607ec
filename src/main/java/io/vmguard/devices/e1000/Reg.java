package io.vmguard.devices.e1000;

/**
 * Register offsets in BAR 0 and the bits vmguard's 82540EM uses, as the Intel 8254x Family of Gigabit
 * Ethernet Controllers Software Developer's Manual (317453, section 13) names them, and as Linux's
 * {@code drivers/net/ethernet/intel/e1000/e1000_hw.h} spells them.
 */
final class Reg {
    private Reg() {}

    static final int CTRL = 0x0000, STATUS = 0x0008, EECD = 0x0010, EERD = 0x0014, CTRL_EXT = 0x0018, MDIC = 0x0020,
            FCAL = 0x0028, FCAH = 0x002c, FCT = 0x0030, VET = 0x0038, ICR = 0x00c0, ITR = 0x00c4, ICS = 0x00c8,
            IMS = 0x00d0, IMC = 0x00d8, RCTL = 0x0100, FCTTV = 0x0170, TXCW = 0x0178, RXCW = 0x0180, TCTL = 0x0400,
            TIPG = 0x0410, LEDCTL = 0x0e00, PBA = 0x1000, FCRTL = 0x2160, FCRTH = 0x2168, RDBAL = 0x2800,
            RDBAH = 0x2804, RDLEN = 0x2808, RDH = 0x2810, RDT = 0x2818, RDTR = 0x2820, RADV = 0x282c, RSRPD = 0x2c00,
            TDBAL = 0x3800, TDBAH = 0x3804, TDLEN = 0x3808, TDH = 0x3810, TDT = 0x3818, TIDV = 0x3820,
            TXDCTL = 0x3828, TADV = 0x382c, RXCSUM = 0x5000, WUC = 0x5800, WUFC = 0x5808, MANC = 0x5820;
    /** Statistics (read-to-clear): 0x4000-0x40ff. */
    static final int STATS = 0x4000, STATS_END = 0x4100;
    /** Multicast table array: 128 dwords of hash bits. */
    static final int MTA = 0x5200, MTA_COUNT = 128;
    /** Receive addresses: 16 pairs of RAL/RAH. */
    static final int RA = 0x5400, RA_COUNT = 16;
    /** VLAN filter table array: 128 dwords. */
    static final int VFTA = 0x5600, VFTA_COUNT = 128;

    // Statistics the device keeps (offsets in the statistics block).
    static final int CRCERRS = 0x4000, MPC = 0x4010, GPRC = 0x4074, BPRC = 0x4078, MPRC = 0x407c, GPTC = 0x4080,
            GORCL = 0x4088, GORCH = 0x408c, GOTCL = 0x4090, GOTCH = 0x4094, TORL = 0x40c0, TORH = 0x40c4,
            TOTL = 0x40c8, TOTH = 0x40cc, TPR = 0x40d0, TPT = 0x40d4, TSCTC = 0x40f8, TSCTFC = 0x40fc;

    static final int CTRL_SLU = 1 << 6, CTRL_RST = 1 << 26, CTRL_VME = 1 << 30, CTRL_PHY_RST = 1 << 31;
    static final int STATUS_FD = 1, STATUS_LU = 1 << 1, STATUS_SPEED_1000 = 1 << 7;

    static final int ICR_TXDW = 1, ICR_TXQE = 1 << 1, ICR_LSC = 1 << 2, ICR_RXSEQ = 1 << 3, ICR_RXDMT0 = 1 << 4,
            ICR_RXO = 1 << 6, ICR_RXT0 = 1 << 7, ICR_MDAC = 1 << 9, ICR_INT_ASSERTED = 1 << 31;
    /** The causes the 82540 has (bits 0-16); writes to IMS/ICS outside them are ignored. */
    static final int ICR_CAUSES = 0x1ffff;

    static final int RCTL_EN = 1 << 1, RCTL_SBP = 1 << 2, RCTL_UPE = 1 << 3, RCTL_MPE = 1 << 4, RCTL_LPE = 1 << 5,
            RCTL_BAM = 1 << 15, RCTL_BSEX = 1 << 25, RCTL_SECRC = 1 << 26;
    static final int RCTL_RDMTS_SHIFT = 8, RCTL_MO_SHIFT = 12, RCTL_BSIZE_SHIFT = 16;

    static final int TCTL_EN = 1 << 1;
    static final int RAH_AV = 1 << 31;

    /** Descriptor ring lengths are multiples of 128 bytes, at most 1 MiB - 128 (20 bits). */
    static final int RING_LENGTH_MASK = 0xfff80;
    static final int DESCRIPTOR_BYTES = 16;
}
