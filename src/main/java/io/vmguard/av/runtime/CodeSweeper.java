package io.vmguard.av.runtime;

import io.vmguard.av.Scanner;
import io.vmguard.events.Severity;
import io.vmguard.events.Source;
import io.vmguard.events.VmEvents;
import io.vmguard.vmi.GuestInspector;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.PageTableWalker;
import io.vmguard.vmi.Translation;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VmiException;
import io.vmguard.vmi.linux.KernelCache;
import io.vmguard.vmi.linux.LinuxKernel;
import io.vmguard.vmi.linux.LinuxTask;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runtime scanning where the engine cannot stop a first execution (KVM): every period, with the vCPUs held,
 * walks the page tables of every address space (each vCPU's, and every process's once the kernel can be
 * read) for executable pages and scans those whose content is new. It finds code only after it was mapped
 * executable and may already have run: a program that unpacks, runs and exits within one period is missed,
 * and nothing can be refused after the fact, so {@link RuntimeAction#BLOCK} pauses the VM like PAUSE.
 */
public final class CodeSweeper implements AutoCloseable {
    private static final long USER_END = 0x0000_7fff_ffff_f000L;
    /** Kernel code lives in the kernel image and module area (x86-64: the top 2 GiB); the direct map is NX. */
    private static final long KERNEL_START = 0xffff_ffff_8000_0000L;
    private static final long KERNEL_LAST_PAGE = 0xffff_ffff_ffff_f000L;
    /** At most this many executable pages per address space per pass: bounds what a guest can make us walk. */
    private static final int MAX_PAGES_PER_SPACE = 1 << 18;

    public record Status(long passes, long pagesSeen, long scans, long matches, long lastPassMicros, String lastError) {}

    private final Scanner scanner;
    private final GuestInspector inspector;
    private final VmEvents events;
    private final Runnable pauseVm;
    private final RuntimeAction action;
    private final Duration period;
    private final ScanCache cache = new ScanCache(CodeScanner.CACHE_ENTRIES);
    private final CodeWindow window = new CodeWindow();
    private final KernelCache kernels = new KernelCache();
    private final Set<Object> reported = new HashSet<>();
    private final AtomicLong passes = new AtomicLong(), pagesSeen = new AtomicLong(), scans = new AtomicLong(),
            matches = new AtomicLong(), lastPassMicros = new AtomicLong();
    private volatile String lastError;
    private volatile boolean closed;
    private Thread thread;

    public CodeSweeper(Scanner scanner, GuestInspector inspector, VmEvents events, Runnable pauseVm,
                       RuntimeAction action, Duration period) {
        this.scanner = scanner;
        this.inspector = inspector;
        this.events = events;
        this.pauseVm = pauseVm;
        this.action = action;
        this.period = period;
    }

    public void start() {
        thread = Thread.ofPlatform().name("av-sweeper").daemon().start(this::loop);
    }

    private void loop() {
        while (!closed) {
            try {
                Thread.sleep(period);
            } catch (InterruptedException e) {
                return;
            }
            sweepOnce();
        }
    }

    /** One pass over every address space's executable pages; public for tests that drive passes themselves. */
    public void sweepOnce() {
        long started = System.nanoTime();
        try {
            List<Found> found = inspector.inspect(this::sweep);
            passes.incrementAndGet();
            for (Found hit : found) {
                report(hit);
            }
            if (!found.isEmpty() && action != RuntimeAction.ALERT) {
                pauseVm.run();
            }
            lastError = null;
        } catch (VmiException e) {
            lastError = e.getMessage();
        } finally {
            lastPassMicros.set((System.nanoTime() - started) / 1000);
        }
    }

    private record Found(CodeMatch match, long frame, long virtualPage, long root, boolean user,
                         Optional<LinuxTask> process) {}

    private List<Found> sweep(GuestView view) throws VmiException {
        Map<Long, Optional<LinuxTask>> roots = new LinkedHashMap<>();
        for (VcpuState vcpu : view.vcpus()) {
            if (vcpu.pageTableRoot() != 0) {
                roots.put(vcpu.pageTableRoot(), Optional.empty());
            }
        }
        try {
            LinuxKernel kernel = LinuxKernel.open(view, kernels);
            for (LinuxTask process : kernel.processes()) {
                if (!process.kernelThread() && process.pageTableRoot() != 0) {
                    roots.put(process.pageTableRoot(), Optional.of(process));
                }
            }
        } catch (VmiException e) {
            // Early boot or a kernel we cannot read: the vCPUs' own address spaces are still swept.
        }
        List<Found> found = new ArrayList<>();
        Set<Long> framesSeen = new HashSet<>();
        boolean kernelHalfDone = false;
        for (Map.Entry<Long, Optional<LinuxTask>> space : roots.entrySet()) {
            PageTableWalker walker = new PageTableWalker(view.memory(), space.getKey(), false);
            sweepRange(view, walker, 0, USER_END + 4096, space.getValue(), framesSeen, found);
            if (!kernelHalfDone) {
                sweepRange(view, walker, KERNEL_START, KERNEL_LAST_PAGE, Optional.empty(), framesSeen, found);
                kernelHalfDone = true;
            }
        }
        return found;
    }

    private void sweepRange(GuestView view, PageTableWalker walker, long start, long end, Optional<LinuxTask> process,
                            Set<Long> framesSeen, List<Found> found) {
        int pages = 0;
        for (PageTableWalker.MappedRange range : walker.mappedRanges(start, end)) {
            for (long page = range.start(); Long.compareUnsigned(page, range.end()) < 0 && pages < MAX_PAGES_PER_SPACE;
                 page += CodeWindow.PAGE, pages++) {
                Optional<Translation> translation = walker.translate(page);
                if (translation.isEmpty() || !translation.get().executable()) {
                    continue;
                }
                long frame = translation.get().physicalAddress() & ~(CodeWindow.PAGE - 1L);
                if (!framesSeen.add(frame)) {
                    continue;
                }
                pagesSeen.incrementAndGet();
                if (!window.fill(view.memory(), frame, page, walker.root(), false)) {
                    continue;
                }
                ScanCache.Key key = cache.key(window.bytes, window.length);
                ScanCache.Verdict verdict = cache.get(key);
                if (verdict == null) {
                    verdict = scan();
                    cache.put(key, verdict);
                }
                for (CodeMatch match : verdict.matches()) {
                    if (reported.add(List.of(key, walker.root()))) {
                        found.add(new Found(match, frame, page, walker.root(), translation.get().user(), process));
                    }
                }
            }
        }
    }

    private ScanCache.Verdict scan() {
        scans.incrementAndGet();
        return window.judge(scanner);
    }

    private void report(Found hit) {
        matches.incrementAndGet();
        Map<String, Object> details = new LinkedHashMap<>();
        details.put("signature", hit.match().signature());
        details.put("database", hit.match().database());
        details.put("mode", hit.user() ? "user" : "kernel");
        details.put("guest_physical", "0x" + Long.toHexString(hit.frame() + hit.match().frameOffset()));
        details.put("guest_virtual", "0x" + Long.toHexString(hit.virtualPage() + hit.match().frameOffset()));
        details.put("cr3", "0x" + Long.toHexString(hit.root()));
        hit.process().ifPresent(task -> {
            details.put("pid", task.tgid());
            details.put("process", task.comm());
        });
        details.put("found_by", "periodic-sweep");
        details.put("action", action == RuntimeAction.ALERT ? "alert" : "paused");
        events.emit(Source.AV, "signature-match", Severity.ALARM, details);
    }

    public Status status() {
        return new Status(passes.get(), pagesSeen.get(), scans.get(), matches.get(), lastPassMicros.get(), lastError);
    }

    @Override
    public void close() {
        closed = true;
        if (thread != null) {
            thread.interrupt();
        }
    }
}
