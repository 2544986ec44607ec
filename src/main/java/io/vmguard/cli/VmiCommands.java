package io.vmguard.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code vmguard vmi ...}: introspection of a running VM through its control API. Text for people,
 * {@code --json} for programs.
 */
@Command(name = "vmi", mixinStandardHelpOptions = true,
        description = "Look into a running guest from outside: processes, modules, registers, memory, integrity.",
        subcommands = {VmiCommands.Ps.class, VmiCommands.Modules.class, VmiCommands.Regs.class, VmiCommands.Read.class,
                VmiCommands.Check.class, VmiCommands.Baseline.class, VmiCommands.Status.class, VmiCommands.Dump.class,
                VmiCommands.Syscalls.class, UnsealDumpCommand.class})
final class VmiCommands implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("vmguard vmi: name a subcommand: ps, modules, regs, read, check, baseline, status, syscalls, dump, unseal-dump (see --help)");
        return 2;
    }

    @Command(name = "ps", mixinStandardHelpOptions = true, description = "The guest's processes, read from its kernel.")
    static final class Ps implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.get("/vmi/processes");
                if (options.json) {
                    System.out.println(reply);
                    return 0;
                }
                System.out.printf("%7s %7s %5s  %s%n", "PID", "PPID", "UID", "NAME");
                for (JsonNode p : reply.path("processes")) {
                    System.out.printf("%7d %7d %5d  %s%s%n", p.path("pid").asInt(), p.path("ppid").asInt(),
                            p.path("uid").asInt(), p.path("kernel_thread").asBoolean() ? "[" + p.path("name").asText() + "]"
                                    : p.path("name").asText(), p.path("hidden").asBoolean() ? "  (hidden from the task list)" : "");
                }
            }
            return 0;
        }
    }

    @Command(name = "modules", mixinStandardHelpOptions = true, description = "The guest kernel's loaded modules.")
    static final class Modules implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.get("/vmi/modules");
                if (options.json) {
                    System.out.println(reply);
                    return 0;
                }
                for (JsonNode m : reply.path("modules")) {
                    System.out.printf("%-24s %s %8d%s%n", m.path("name").asText(), m.path("base").asText(),
                            m.path("size").asLong(), m.path("hidden").asBoolean() ? "  (hidden from the module list)" : "");
                }
            }
            return 0;
        }
    }

    @Command(name = "regs", mixinStandardHelpOptions = true, description = "Each vCPU's registers, control registers and MSRs.")
    static final class Regs implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.get("/vmi/registers");
                if (options.json) {
                    System.out.println(reply);
                    return 0;
                }
                PrintStream out = System.out;
                for (JsonNode cpu : reply.path("vcpus")) {
                    out.println("vcpu" + cpu.path("index").asInt() + " (CPL " + cpu.path("cpl").asInt() + ")");
                    printFields(out, cpu.path("registers"));
                    printFields(out, cpu.path("control"));
                    out.println("  gdt " + cpu.path("gdt").path("base").asText() + "/" + cpu.path("gdt").path("limit").asText()
                            + "  idt " + cpu.path("idt").path("base").asText() + "/" + cpu.path("idt").path("limit").asText());
                    printFields(out, cpu.path("msrs"));
                }
            }
            return 0;
        }

        private static void printFields(PrintStream out, JsonNode fields) {
            StringBuilder line = new StringBuilder(" ");
            var names = fields.fieldNames();
            int column = 0;
            while (names.hasNext()) {
                String name = names.next();
                line.append(String.format(" %-6s %-18s", name, fields.path(name).asText()));
                if (++column % 4 == 0) {
                    out.println(line);
                    line = new StringBuilder(" ");
                }
            }
            if (column % 4 != 0) {
                out.println(line);
            }
        }
    }

    @Command(name = "read", mixinStandardHelpOptions = true,
            description = "Read guest memory (logged as a vmi event); a hex dump, or the bytes with --raw.")
    static final class Read implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Parameters(index = "0", paramLabel = "ADDRESS", description = "hexadecimal address")
        String address;

        @Option(names = "--size", paramLabel = "BYTES", defaultValue = "256", description = "how much (at most 1 MiB; default ${DEFAULT-VALUE})")
        int size;

        @Option(names = "--virtual", description = "a virtual address, through the page tables (of --cr3, or vCPU 0's)")
        boolean virtual;

        @Option(names = "--cr3", paramLabel = "HEX", description = "the page-table root for a virtual read")
        String cr3;

        @Override
        public Integer call() throws CliException {
            Map<String, Object> request = new LinkedHashMap<>();
            request.put("space", virtual || cr3 != null ? "virtual" : "physical");
            request.put("address", address);
            request.put("size", size);
            if (cr3 != null) {
                request.put("cr3", cr3);
            }
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.put("/vmi/memory/read", ApiClient.json(request));
                if (options.json) {
                    System.out.println(reply);
                    return 0;
                }
                byte[] data = java.util.HexFormat.of().parseHex(reply.path("data").asText());
                long base = Long.parseUnsignedLong(address.replaceFirst("^0[xX]", ""), 16);
                for (int row = 0; row < data.length; row += 16) {
                    StringBuilder hex = new StringBuilder();
                    StringBuilder text = new StringBuilder();
                    for (int i = row; i < Math.min(row + 16, data.length); i++) {
                        hex.append(String.format("%02x ", data[i] & 0xff));
                        text.append(data[i] >= 0x20 && data[i] < 0x7f ? (char) data[i] : '.');
                    }
                    System.out.printf("%016x  %-48s %s%n", base + row, hex, text);
                }
            }
            return 0;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Check the guest kernel against the baseline now; exit 1 when something changed.")
    static final class Check implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.get("/vmi/check");
                if (options.json) {
                    System.out.println(reply);
                } else if (reply.path("findings").isEmpty()) {
                    System.out.println("ok: the kernel matches its baseline");
                } else {
                    for (JsonNode finding : reply.path("findings")) {
                        System.out.println(finding.path("check").asText() + ": " + finding.path("summary").asText());
                    }
                }
                return reply.path("findings").isEmpty() ? 0 : 1;
            }
        }
    }

    @Command(name = "baseline", mixinStandardHelpOptions = true, description = "Take the integrity baseline now.")
    static final class Baseline implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.put("/vmi/baseline", "{}");
                System.out.println(options.json ? reply.toString() : "baseline taken at " + reply.path("baseline_time").asText());
            }
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true, description = "The integrity monitor's figures.")
    static final class Status implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.get("/vmi/status");
                if (options.json) {
                    System.out.println(reply);
                } else if (!reply.path("monitor").asBoolean()) {
                    System.out.println("no integrity monitor (start the VM with --vmi-monitor)");
                } else {
                    System.out.println("baseline: " + (reply.path("baselined").asBoolean() ? reply.path("baseline_time").asText() : "not yet")
                            + "; passes " + reply.path("passes").asLong() + ", last " + reply.path("last_pass_micros").asLong()
                            + " us; trapped events " + reply.path("trapped_events").asLong() + "; alarms "
                            + reply.path("findings").asLong() + "; traps " + reply.path("traps"));
                }
            }
            return 0;
        }
    }

    @Command(name = "syscalls", mixinStandardHelpOptions = true,
            description = "Trace system calls by number (and process name) as vmi events; no --number stops tracing. "
                    + "Watch them with vmguard events.")
    static final class Syscalls implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Option(names = "--number", paramLabel = "N", description = "a system-call number to trace (repeatable)")
        java.util.List<Integer> numbers = new java.util.ArrayList<>();

        @Option(names = "--process", paramLabel = "NAME", description = "only calls made by tasks with this name")
        String process;

        @Override
        public Integer call() throws CliException {
            Map<String, Object> request = new LinkedHashMap<>();
            request.put("numbers", numbers);
            if (process != null) {
                request.put("process", process);
            }
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.put("/vmi/syscalls", ApiClient.json(request));
                System.out.println(options.json ? reply.toString() : reply.path("tracing").asBoolean()
                        ? "tracing system calls " + reply.path("numbers") + (process == null ? "" : " of " + process)
                        : "not tracing system calls");
            }
            return 0;
        }
    }

    @Command(name = "dump", mixinStandardHelpOptions = true,
            description = "Write guest memory and vCPU state as an ELF core file (for crash, gdb), mode 0600; sealed when the VM "
                    + "runs with --seal (open it with vmi unseal-dump).")
    static final class Dump implements Callable<Integer> {
        @Mixin
        ClientOptions options;

        @Parameters(index = "0", paramLabel = "FILE")
        Path file;

        @Override
        public Integer call() throws CliException {
            try (ApiClient api = options.connect()) {
                JsonNode reply = api.put("/vmi/dump", ApiClient.json(Map.of("path", file.toAbsolutePath().toString())));
                System.out.println(options.json ? reply.toString()
                        : "wrote " + reply.path("path").asText() + (reply.path("sealed").asBoolean() ? ", sealed" : "")
                                + " (" + reply.path("bytes").asLong() + " bytes)");
            }
            return 0;
        }
    }
}
