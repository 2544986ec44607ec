package io.vmguard.vmi.linux;

import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.PageTableWalker.MappedRange;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VirtualMemory;
import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Finds the running Linux kernel with no profile: picks an address space that maps the kernel, scans the
 * kernel image window for the kallsyms tables (starting where LSTAR points), decodes and validates the
 * symbols, then reads the banner and the kernel's BTF.
 */
public final class KernelDiscovery {
    /** The x86-64 kernel image window: {@code __START_KERNEL_map} plus KERNEL_IMAGE_SIZE with KASLR (1 GiB). */
    static final long IMAGE_WINDOW_START = 0xffff_ffff_8000_0000L;
    static final long IMAGE_WINDOW_END = 0xffff_ffff_c000_0000L;
    private static final long PTI_USER_PGD = 0x1000;
    private static final int BANNER_MAX = 512;
    private static final int BTF_MAX = 64 << 20;
    private static final List<String> REQUIRED = List.of("_text", "_stext", "_etext", "init_task", "entry_SYSCALL_64");

    private KernelDiscovery() {}

    /** Discovers the kernel from its own memory. */
    public static DiscoveredKernel discover(GuestView view) throws VmiException {
        List<String> problems = new ArrayList<>();
        List<Long> anchors = lstars(view);
        for (VirtualMemory memory : addressSpaces(view)) {
            List<MappedRange> ranges = memory.walker().mappedRanges(IMAGE_WINDOW_START, IMAGE_WINDOW_END);
            if (ranges.isEmpty()) {
                problems.add(root(memory) + ": nothing mapped in the kernel image window");
                continue;
            }
            try {
                KallsymsTables tables = KallsymsFinder.find(memory, ordered(ranges, anchors));
                SymbolTable symbols = KallsymsDecoder.decode(memory, tables);
                validate(symbols, tables);
                long relativeBase = memory.readLong(tables.relativeBase());
                return complete(memory, symbols, symbols.require("_text") - DiscoveredKernel.DEFAULT_TEXT,
                        Optional.of(tables), relativeBase);
            } catch (VmiException e) {
                problems.add(root(memory) + ": " + e.getMessage());
            }
        }
        throw new VmiException("no Linux kernel found" + (problems.isEmpty() ? ": no vCPU is in long mode with paging"
                : ": " + String.join("; ", problems)));
    }

    /**
     * Uses a System.map (link-time addresses) instead of scanning: the slide is what moves
     * {@code entry_SYSCALL_64} to a vCPU's LSTAR, accepted only if {@code linux_banner} then reads as a banner.
     */
    public static DiscoveredKernel discover(GuestView view, SymbolTable systemMap) throws VmiException {
        long linkedEntry = systemMap.require("entry_SYSCALL_64");
        List<String> problems = new ArrayList<>();
        for (VirtualMemory memory : addressSpaces(view)) {
            for (long lstar : lstars(view)) {
                SymbolTable symbols = systemMap.slid(lstar - linkedEntry);
                try {
                    readBanner(memory, symbols.require("linux_banner"));
                    return complete(memory, symbols, lstar - linkedEntry, Optional.empty(), 0);
                } catch (VmiException e) {
                    problems.add(root(memory) + ", slide " + Long.toHexString(lstar - linkedEntry) + ": " + e.getMessage());
                }
            }
        }
        throw new VmiException("System.map does not match the running kernel"
                + (problems.isEmpty() ? ": no vCPU has LSTAR set" : ": " + String.join("; ", problems)));
    }

    /** Candidate kernel address spaces: kernel-mode vCPUs first; for user-mode ones also the PTI kernel half. */
    static List<VirtualMemory> addressSpaces(GuestView view) {
        Set<Long> seen = new LinkedHashSet<>();
        List<VirtualMemory> spaces = new ArrayList<>();
        List<VcpuState> vcpus = new ArrayList<>(view.vcpus());
        vcpus.sort((a, b) -> Integer.compare(a.cpl() == 0 ? 0 : 1, b.cpl() == 0 ? 0 : 1));
        for (VcpuState vcpu : vcpus) {
            PageTableWalker walker;
            try {
                walker = PageTableWalker.forVcpu(view.memory(), vcpu);
            } catch (VmiException e) {
                continue;
            }
            List<Long> roots = vcpu.cpl() == 0 ? List.of(walker.root())
                    : List.of(walker.root() & ~PTI_USER_PGD, walker.root());
            for (long root : roots) {
                if (seen.add(root)) {
                    spaces.add(new VirtualMemory(view.memory(), walker.withRoot(root)));
                }
            }
        }
        return spaces;
    }

    private static List<Long> lstars(GuestView view) {
        return view.vcpus().stream().map(VcpuState::lstar).filter(l -> l != 0).distinct().toList();
    }

    /** The range holding an anchor (LSTAR: kernel text) first, then the ones after it (rodata follows text), then the rest. */
    private static List<MappedRange> ordered(List<MappedRange> ranges, List<Long> anchors) {
        int first = 0;
        for (int i = 0; i < ranges.size() && !anchors.isEmpty(); i++) {
            long anchor = anchors.getFirst();
            if (Long.compareUnsigned(ranges.get(i).end(), anchor) > 0) {
                first = i;
                break;
            }
        }
        List<MappedRange> ordered = new ArrayList<>(ranges.subList(first, ranges.size()));
        ordered.addAll(ranges.subList(0, first).reversed());
        return ordered;
    }

    private static void validate(SymbolTable symbols, KallsymsTables tables) throws VmiException {
        List<String> missing = REQUIRED.stream().filter(name -> symbols.address(name).isEmpty()).toList();
        if (!missing.isEmpty()) {
            throw new VmiException("the symbol table lacks " + String.join(", ", missing));
        }
        long text = symbols.require("_text");
        long stext = symbols.require("_stext");
        long etext = symbols.require("_etext");
        long entry = symbols.require("entry_SYSCALL_64");
        if (Long.compareUnsigned(text, stext) > 0 || Long.compareUnsigned(stext, etext) >= 0
                || Long.compareUnsigned(entry, stext) < 0 || Long.compareUnsigned(entry, etext) >= 0) {
            throw new VmiException(String.format("implausible text bounds: _text %#x _stext %#x _etext %#x entry_SYSCALL_64 %#x",
                    text, stext, etext, entry));
        }
        // 6.12 lists the kallsyms labels themselves: they must name the tables the finder found.
        if (symbols.address("kallsyms_token_table").orElse(tables.tokenTable()) != tables.tokenTable()
                || symbols.address("kallsyms_num_syms").orElse(tables.numSyms()) != tables.numSyms()) {
            throw new VmiException("the decoded kallsyms_* symbols do not point at the tables they were decoded from");
        }
    }

    private static DiscoveredKernel complete(VirtualMemory found, SymbolTable symbols, long slide,
                                             Optional<KallsymsTables> kallsyms, long relativeBase) throws VmiException {
        VirtualMemory memory = kernelSpace(found, symbols);
        long bannerAddress = symbols.require("linux_banner");
        String banner = readBanner(memory, bannerAddress);
        Optional<KernelTypes> types = Optional.empty();
        String typesProblem = "";
        long btfAddress = symbols.address("__start_BTF").orElse(0);
        byte[] header = new byte[0];
        try {
            long stop = symbols.require("__stop_BTF");
            long size = stop - btfAddress;
            if (btfAddress == 0 || size <= 24 || size > BTF_MAX) {
                throw new VmiException(String.format("BTF bounds %#x..%#x are implausible", btfAddress, stop));
            }
            byte[] blob = memory.readBytes(btfAddress, (int) size);
            header = Arrays.copyOf(blob, 24);
            types = Optional.of(new KernelTypes(BtfParser.parse(blob)));
        } catch (VmiException e) {
            typesProblem = e.getMessage();
        }
        return new DiscoveredKernel(symbols, slide, banner, bannerAddress, memory.walker().root(),
                memory.walker().fiveLevel(), kallsyms, relativeBase, types, typesProblem, btfAddress, header);
    }

    /** The kernel's own page tables (init_top_pgt) when they map the banner as well; else the space we found it in. */
    private static VirtualMemory kernelSpace(VirtualMemory found, SymbolTable symbols) {
        try {
            long root = found.physicalAddress(symbols.require("init_top_pgt"));
            VirtualMemory own = found.withRoot(root);
            readBanner(own, symbols.require("linux_banner"));
            return own;
        } catch (VmiException e) {
            return found;
        }
    }

    static String readBanner(VirtualMemory memory, long address) throws VmiException {
        String banner = memory.readCString(address, BANNER_MAX);
        if (!banner.startsWith("Linux version ")) {
            throw new VmiException("linux_banner does not read \"Linux version ...\"", address);
        }
        return banner.strip();
    }

    private static String root(VirtualMemory memory) {
        return "CR3 " + Long.toHexString(memory.walker().root());
    }
}
