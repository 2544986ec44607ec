package io.vmguard.api;

import io.vmguard.api.model.DumpRequest;
import io.vmguard.api.model.MemoryAccess;
import io.vmguard.api.model.SyscallTrace;
import io.vmguard.vmi.SyscallTracer;
import io.vmguard.engine.DescriptorTable;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Segment;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VmiException;
import io.vmguard.vmi.integrity.Finding;
import io.vmguard.vmi.integrity.IntegrityMonitor;
import io.vmguard.vmm.Introspection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import java.util.TreeMap;

/**
 * Introspection on the control API, under {@code /vmi/}: registers, guest memory (bounded, each access
 * logged), the integrity monitor's checks, baseline and status. Every value that is an address or a
 * register is a hexadecimal string.
 */
final class VmiRoutes {
    private static final HexFormat HEX = HexFormat.of();

    private VmiRoutes() {}

    @FunctionalInterface
    private interface VmiCall {
        Object call(Introspection introspection) throws VmiException, ApiError;
    }

    static void register(Routes routes, ApiContext api) {
        Instance instance = api.instance();
        routes.add("GET", "/vmi/registers", (id, body) -> answer(instance, vmi -> Map.of("vcpus",
                        vmi.registers().stream().map(VmiRoutes::vcpu).toList())))
              .add("PUT", "/vmi/memory/read", (id, body) -> {
                  refuseWhenSealed(api, "memory/read");
                  MemoryAccess access = Json.read(body, MemoryAccess.class);
                  return answer(instance, vmi -> {
                      int size = access.size() == null ? 256 : access.size();
                      byte[] data = vmi.read(space(access), parse(access.address(), "address"), size, cr3(access));
                      Map<String, Object> reply = new LinkedHashMap<>();
                      reply.put("space", access.space());
                      reply.put("address", access.address());
                      reply.put("size", data.length);
                      reply.put("data", HEX.formatHex(data));
                      return reply;
                  });
              })
              .add("PUT", "/vmi/memory/write", (id, body) -> {
                  refuseWhenSealed(api, "memory/write");
                  MemoryAccess access = Json.read(body, MemoryAccess.class);
                  if (access.data() == null) {
                      throw ApiError.badRequest("A memory write needs 'data' (hexadecimal bytes).");
                  }
                  byte[] data;
                  try {
                      data = HEX.parseHex(access.data());
                  } catch (IllegalArgumentException e) {
                      throw ApiError.badRequest("'data' is not hexadecimal bytes: " + e.getMessage());
                  }
                  answer(instance, vmi -> {
                      vmi.write(space(access), parse(access.address(), "address"), data, cr3(access));
                      return null;
                  });
                  return Reply.noContent();
              })
              .add("GET", "/vmi/processes", (id, body) -> answer(instance, vmi -> Map.of("processes", vmi.processes())))
              .add("GET", "/vmi/modules", (id, body) -> answer(instance, vmi -> Map.of("modules", vmi.modules())))
              .add("GET", "/vmi/kernel", (id, body) -> answer(instance, Introspection::kernelSummary))
              .add("PUT", "/vmi/syscalls", (id, body) -> {
                  SyscallTrace trace = Json.read(body, SyscallTrace.class);
                  java.util.BitSet numbers = new java.util.BitSet();
                  for (int number : trace.numbers()) {
                      if (number < 0 || number >= io.vmguard.engine.monitor.MonitorPlan.MAX_SYSTEM_CALLS) {
                          throw ApiError.badRequest("system-call number " + number + " is out of range");
                      }
                      numbers.set(number);
                  }
                  return answer(instance, vmi -> vmi.traceSyscalls(new SyscallTracer.Filter(numbers,
                          java.util.Optional.ofNullable(trace.process()))));
              })
              .add("PUT", "/vmi/dump", (id, body) -> {
                  // With --seal the dump is written sealed (Introspection.dump): no plaintext dump is offered then.
                  DumpRequest request = Json.read(body, DumpRequest.class);
                  return answer(instance, vmi -> {
                      var written = vmi.dump(java.nio.file.Path.of(request.path()));
                      Map<String, Object> reply = new LinkedHashMap<>();
                      reply.put("path", written.file().toString());
                      reply.put("bytes", written.fileBytes());
                      reply.put("memory_bytes", written.memoryBytes());
                      reply.put("vcpus", written.vcpus());
                      reply.put("sealed", instance.sealed());
                      return reply;
                  });
              })
              .add("GET", "/vmi/check", (id, body) -> answer(instance, vmi -> Map.of("findings",
                        vmi.check().stream().map(VmiRoutes::finding).toList())))
              .add("PUT", "/vmi/baseline", (id, body) -> answer(instance, vmi -> {
                  vmi.takeBaseline();
                  return status(vmi.monitor().orElseThrow().status());
              }))
              .add("GET", "/vmi/status", (id, body) -> answer(instance, vmi -> vmi.monitor()
                        .map(monitor -> status(monitor.status()))
                        .orElseGet(() -> Map.of("monitor", false))));
    }

    /**
     * With --seal, guest memory leaves vmguard only sealed: raw reads and writes and plaintext dumps are
     * refused (403, and an event saying who asked for what); dumps are written sealed instead.
     */
    private static void refuseWhenSealed(ApiContext api, String what) throws ApiError {
        if (api.instance().sealed()) {
            api.events().emit(Source.VMM, "sealed-access-refused", Severity.WARNING, Map.of("request", "/vmi/" + what));
            throw new ApiError(403, "Refused: this VM runs with --seal, so its memory leaves vmguard only sealed (vmi "
                    + what + " would hand it out in clear).");
        }
    }

    private static Reply answer(Instance instance, VmiCall call) throws ApiError {
        Introspection introspection = instance.introspection();
        try {
            Object value = call.call(introspection);
            return value == null ? Reply.noContent() : Reply.ok(value);
        } catch (VmiException e) {
            throw ApiError.badRequest(e.getMessage());
        }
    }

    private static Introspection.Space space(MemoryAccess access) {
        return access.space().equals("virtual") ? Introspection.Space.VIRTUAL : Introspection.Space.PHYSICAL;
    }

    private static OptionalLong cr3(MemoryAccess access) throws ApiError {
        return access.cr3() == null ? OptionalLong.empty() : OptionalLong.of(parse(access.cr3(), "cr3"));
    }

    /** "0x1234" or "1234" (hexadecimal either way). */
    static long parse(String text, String field) throws ApiError {
        String digits = text.startsWith("0x") || text.startsWith("0X") ? text.substring(2) : text;
        try {
            return Long.parseUnsignedLong(digits, 16);
        } catch (NumberFormatException e) {
            throw ApiError.badRequest("'" + field + "' must be a hexadecimal number, not '" + text + "'");
        }
    }

    static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }

    static Map<String, Object> vcpu(VcpuState state) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("index", state.index());
        Registers r = state.registers();
        Map<String, Object> gprs = new LinkedHashMap<>();
        String[] names = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                "r14", "r15"};
        for (int i = 0; i < names.length; i++) {
            gprs.put(names[i], hex(r.gpr(i)));
        }
        gprs.put("rip", hex(r.rip()));
        gprs.put("rflags", hex(r.rflags()));
        out.put("registers", gprs);
        SpecialRegisters s = state.special();
        Map<String, Object> control = new LinkedHashMap<>();
        control.put("cr0", hex(s.cr0()));
        control.put("cr2", hex(s.cr2()));
        control.put("cr3", hex(s.cr3()));
        control.put("cr4", hex(s.cr4()));
        control.put("cr8", hex(s.cr8()));
        control.put("efer", hex(s.efer()));
        out.put("control", control);
        Map<String, Object> segments = new LinkedHashMap<>();
        segments.put("cs", segment(s.cs()));
        segments.put("ds", segment(s.ds()));
        segments.put("es", segment(s.es()));
        segments.put("fs", segment(s.fs()));
        segments.put("gs", segment(s.gs()));
        segments.put("ss", segment(s.ss()));
        segments.put("tr", segment(s.tr()));
        segments.put("ldt", segment(s.ldt()));
        out.put("segments", segments);
        out.put("gdt", table(s.gdt()));
        out.put("idt", table(s.idt()));
        Map<String, Object> msrs = new TreeMap<>();
        state.msrs().forEach((index, value) -> msrs.put(Msr.name(index), hex(value)));
        out.put("msrs", msrs);
        out.put("cpl", state.cpl());
        return out;
    }

    private static Map<String, Object> segment(Segment segment) {
        return Map.of("selector", hex(segment.selector()), "base", hex(segment.base()), "limit", hex(segment.limit() & 0xffff_ffffL),
                "type", segment.type(), "dpl", segment.dpl(), "present", segment.present(), "long", segment.l());
    }

    private static Map<String, Object> table(DescriptorTable table) {
        return Map.of("base", hex(table.base()), "limit", hex(table.limit()));
    }

    static Map<String, Object> finding(Finding finding) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("check", finding.check());
        out.put("subject", finding.subject());
        out.put("summary", finding.summary());
        out.put("details", finding.details());
        return out;
    }

    static Map<String, Object> status(IntegrityMonitor.Status status) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("monitor", true);
        out.put("baselined", status.baselined());
        if (status.baselineTime() != null) {
            out.put("baseline_time", status.baselineTime().toString());
        }
        out.put("passes", status.passes());
        out.put("trapped_events", status.trappedEvents());
        out.put("findings", status.findings());
        out.put("last_pass_micros", status.lastPassMicros());
        out.put("cpu_nanos", status.cpuNanos());
        out.put("setup_cpu_nanos", status.setupCpuNanos());
        out.put("held_nanos", status.heldNanos());
        out.put("traps", status.traps().stream().map(Enum::name).sorted().toList());
        if (status.lastError() != null) {
            out.put("last_error", status.lastError());
        }
        return out;
    }
}
