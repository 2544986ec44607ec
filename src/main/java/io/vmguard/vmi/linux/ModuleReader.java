package io.vmguard.vmi.linux;

import io.vmguard.vmi.VmiException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the two views of loaded modules a module-hiding rootkit has to keep apart: the {@code modules}
 * list (what lsmod and /proc/modules show) and the kobjects of {@code module_kset} (/sys/module).
 */
final class ModuleReader {
    private static final String MODULE = "module";
    private static final int NAME_LIMIT = 256;

    private final KernelContext kernel;

    ModuleReader(KernelContext kernel) {
        this.kernel = kernel;
    }

    List<LoadedModule> modules() throws VmiException {
        long head = kernel.symbols().require("modules");
        long listOffset = kernel.offset(MODULE, "list");
        List<LoadedModule> modules = new ArrayList<>();
        for (long node : ListWalker.nodes(kernel.memory(), head, "modules")) {
            modules.add(module(node - listOffset));
        }
        return modules;
    }

    private LoadedModule module(long module) throws VmiException {
        var nameField = kernel.types().field(MODULE, "name");
        String name = kernel.memory().readCString(module + nameField.offset(), (int) Math.min(nameField.size(), NAME_LIMIT));
        var stateField = kernel.types().field(MODULE, "state");
        long stateValue = Integer.toUnsignedLong(kernel.memory().readInt(module + stateField.offset()));
        String state = kernel.types().enumName(stateField.type(), stateValue).orElse("state " + stateValue);
        return new LoadedModule(module, name, state, regions(module));
    }

    /** 6.4+: {@code mem[MOD_*]}, one region per memory type with a size; before: core_layout and init_layout. */
    private List<LoadedModule.Region> regions(long module) throws VmiException {
        KernelTypes types = kernel.types();
        List<LoadedModule.Region> regions = new ArrayList<>();
        if (types.has(MODULE, "mem")) {
            int count = types.arrayLength(MODULE, "mem");
            long stride = types.btf().sizeOf(((BtfType.Array) types.btf().resolve(types.field(MODULE, "mem").type())).elementType());
            long memory = module + types.offsetOf(MODULE, "mem");
            long baseOffset = types.offsetOf("module_memory", "base");
            long sizeOffset = types.offsetOf("module_memory", "size");
            for (int i = 0; i < count; i++) {
                long base = kernel.memory().readLong(memory + i * stride + baseOffset);
                long size = Integer.toUnsignedLong(kernel.memory().readInt(memory + i * stride + sizeOffset));
                String kind = enumNameOf("mod_mem_type", i);
                if (i == 0 || size != 0) {
                    regions.add(new LoadedModule.Region(kind, base, size));
                }
            }
        } else {
            for (String layout : List.of("core_layout", "init_layout")) {
                long base = kernel.memory().readLong(module + types.offsetOf(MODULE, layout + ".base"));
                long size = Integer.toUnsignedLong(kernel.memory().readInt(module + types.offsetOf(MODULE, layout + ".size")));
                if (layout.equals("core_layout") || size != 0) {
                    regions.add(new LoadedModule.Region(layout, base, size));
                }
            }
        }
        return regions;
    }

    private String enumNameOf(String enumName, long value) throws VmiException {
        for (int id : kernel.types().btf().named(enumName)) {
            if (kernel.types().btf().type(id) instanceof BtfType.Enum) {
                return kernel.types().enumName(id, value).orElse(enumName + " " + value);
            }
        }
        return enumName + " " + value;
    }

    /** The kobjects on module_kset's list; built-in code with parameters has one too, with no module. */
    List<ModuleKobject> kobjects() throws VmiException {
        long kset = kernel.memory().readLong(kernel.symbols().require("module_kset"));
        if (kset == 0) {
            return List.of(); // before param_sysfs_init has run
        }
        GuestPointers.kernel(kset, "module_kset");
        long entryOffset = kernel.offset("kobject", "entry");
        long kobjOffset = kernel.offset("module_kobject", "kobj");
        List<ModuleKobject> kobjects = new ArrayList<>();
        for (long node : ListWalker.nodes(kernel.memory(), kset + kernel.offset("kset", "list"), "module_kset.list")) {
            long kobject = node - entryOffset;
            long namePointer = kernel.pointer(kobject, "kobject", "name");
            String name = namePointer == 0 ? ""
                    : kernel.memory().readCString(GuestPointers.kernel(namePointer, "kobject name"), NAME_LIMIT);
            long module = kernel.pointer(kobject - kobjOffset, "module_kobject", "mod");
            kobjects.add(new ModuleKobject(kobject, name, module));
        }
        return kobjects;
    }
}
