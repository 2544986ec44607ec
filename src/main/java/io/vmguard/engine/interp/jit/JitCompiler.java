package io.vmguard.engine.interp.jit;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Compiles blocks on a background thread, never on a vCPU's: a vCPU {@link #submit}s a hot block (a bounded queue;
 * when it is full the block simply stays interpreted and may be offered again), the compiler emits its bytecode,
 * defines it as a hidden class of the interpreter's package through the lookup the interpreter handed over (not
 * STRONG: a translation dropped by every holder unloads with its class), and hands the instance back through
 * {@link Unit#install}, which publishes it for the vCPUs.
 *
 * <p>Bounded: at most {@link JitOptions#budget()} translations are installed at once; reaching it evicts them all
 * (their blocks run interpreted and get hot again), as QEMU flushes a full code buffer.
 */
public final class JitCompiler implements AutoCloseable {
    /** What the interpreter hands over for one block. */
    public interface Unit {
        List<Step> steps();

        /** The objects {@link Step.Interpret} indexes (the block's decoded instructions). */
        List<?> classData();

        /** Publishes the compiled block (an instance of the interpreter's {@code CompiledBlock}). */
        void install(Object compiled);

        /** Makes the unit smaller (a region down to its entry block) after it came out too large; false if it cannot. */
        default boolean shrink() {
            return false;
        }

        /** Blocks the unit joins (1 but for a region). */
        default int blocks() {
            return 1;
        }

        /** Drops the translation (budget reached, or it could not be compiled: then for good). */
        void evict(boolean forGood);
    }

    /**
     * What every generated class's name starts with (then a number): the launcher ({@code vmguard}) names them in a
     * HotSpot compile command, so keep the two in step (LauncherJvmFlagsTest).
     */
    public static final String CLASS_PREFIX = "JitBlock";

    private static final int QUEUE = 256;

    private final MethodHandles.Lookup lookup;
    private final JitOptions options;
    private final BlockEmitter emitter;
    private final BlockingQueue<Unit> queue = new ArrayBlockingQueue<>(QUEUE);
    private final List<Unit> installed = new ArrayList<>();
    private final Thread thread;
    private final AtomicLong regionBlocks = new AtomicLong();
    private final AtomicLong compiled = new AtomicLong(), bytecodeBytes = new AtomicLong(), flushes = new AtomicLong(),
            failures = new AtomicLong();
    private volatile boolean closed;
    private volatile Throwable lastFailure;
    private long names;

    /** @param lookup a full-privilege lookup of the interpreter's package, where generated classes live */
    public JitCompiler(MethodHandles.Lookup lookup, JitOptions options) {
        if (!lookup.lookupClass().getPackageName().equals(RuntimeSurface.PACKAGE)) {
            throw new IllegalArgumentException("the JIT's lookup must be of " + RuntimeSurface.PACKAGE);
        }
        this.lookup = lookup;
        this.options = options;
        this.emitter = new BlockEmitter(lookup.lookupClass().getClassLoader());
        this.thread = Thread.ofPlatform().daemon().name("vmguard-jit").unstarted(this::loop);
        thread.setPriority(Thread.NORM_PRIORITY - 1);
    }

    public JitOptions options() {
        return options;
    }

    /** Offers a hot block; false when the queue is full (the caller may offer it again later). */
    public boolean submit(Unit unit) {
        if (closed) {
            return false;
        }
        startOnce(); // a VM whose code never gets hot (most tests) never starts the thread
        return queue.offer(unit);
    }

    private synchronized void startOnce() {
        if (thread.getState() == Thread.State.NEW && !closed) {
            thread.start();
        }
    }

    private void loop() {
        try {
            while (!closed) {
                compile(queue.take());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Compiles on the calling thread (threshold 0: tests that need code that runs once to run compiled). */
    public void compileNow(Unit unit) {
        compile(unit);
    }

    /** Emits, defines and installs one block (the compiler thread, or a vCPU's with threshold 0). */
    private synchronized void compile(Unit unit) {
        Object instance;
        int size;
        try {
            byte[] bytes;
            try {
                bytes = emitter.emit(CLASS_PREFIX + names++, unit.steps());
            } catch (BlockEmitter.TooLarge e) {
                if (!unit.shrink()) {
                    throw e;
                }
                bytes = emitter.emit(CLASS_PREFIX + names++, unit.steps());
            }
            size = bytes.length;
            Class<?> type = lookup.defineHiddenClassWithClassData(bytes, unit.classData(), true).lookupClass();
            instance = lookup.findConstructor(type, MethodType.methodType(void.class)).invoke();
        } catch (BlockEmitter.TooLarge e) {
            failures.incrementAndGet();
            unit.evict(true);
            return;
        } catch (Throwable e) {
            // An emitter defect must not take the VM down: the block stays interpreted, which is always exact.
            failures.incrementAndGet();
            unit.evict(true);
            lastFailure = e;
            if (failures.get() <= 3) {
                System.err.println("vmguard: JIT could not compile a block (it stays interpreted): " + e);
            }
            return;
        }
        if (installed.size() >= options.budget()) {
            for (Unit old : installed) {
                old.evict(false);
            }
            installed.clear();
            flushes.incrementAndGet();
        }
        installed.add(unit);
        unit.install(instance);
        compiled.incrementAndGet();
        bytecodeBytes.addAndGet(size);
        if (unit.blocks() > 1) {
            regionBlocks.addAndGet(unit.blocks() - 1);
        }
    }

    /** Blocks compiled, class-file bytes made, budget flushes and blocks that could not be compiled, so far. */
    public String statistics() {
        return "compiled " + compiled.get() + " blocks (" + bytecodeBytes.get() + " class-file bytes, "
                + regionBlocks.get() + " more blocks joined into them as regions), "
                + flushes.get() + " budget flushes, " + failures.get() + " not compilable";
    }

    /** Why the last block that could not be compiled could not (an emitter defect; tests require none), or null. */
    public Throwable lastFailure() {
        return lastFailure;
    }

    /** Blocks compiled into another block's translation (regions), beyond their entry blocks. */
    public long regionBlocks() {
        return regionBlocks.get();
    }

    public long compiledBlocks() {
        return compiled.get();
    }

    @Override
    public synchronized void close() {
        closed = true;
        thread.interrupt();
    }
}
