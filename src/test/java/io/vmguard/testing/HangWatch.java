package io.vmguard.testing;

import java.lang.management.LockInfo;
import java.lang.management.ManagementFactory;
import java.lang.management.MonitorInfo;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Runs a piece of a test on a thread of its own and fails the test with a full thread dump when it does
 * not end in time, saying whether the JVM sees a deadlock ({@link ThreadMXBean#findDeadlockedThreads}).
 * A hung thread is left behind as a daemon: a deadlock cannot be broken from outside anyway.
 */
public final class HangWatch {
    private HangWatch() {}

    /** A body that may throw, as test code does. */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    /**
     * Runs {@code body} and waits up to {@code limit} for it; rethrows what it threw.
     *
     * @param what names the run in the failure (e.g. the seed, so it can be replayed)
     */
    public static void runWithin(Duration limit, String what, Body body) throws Exception {
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        Thread thread = Thread.ofPlatform().name("hang-watch " + what).daemon().start(() -> {
            try {
                body.run();
            } catch (Throwable t) {
                thrown.set(t);
            }
        });
        if (!thread.join(limit)) {
            throw new AssertionError(what + " did not finish within " + limit.toMillis() + " ms: " + diagnosis());
        }
        Throwable t = thrown.get();
        if (t instanceof Exception e) {
            throw e;
        } else if (t instanceof Error e) {
            throw e;
        }
    }

    /** Which threads are deadlocked, if any, then every thread's stack with the locks it holds and wants. */
    public static String diagnosis() {
        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long[] deadlocked = threads.findDeadlockedThreads();
        StringBuilder text = new StringBuilder();
        if (deadlocked == null) {
            text.append("no deadlock found (a hang or a livelock)\n");
        } else {
            text.append("DEADLOCK among ").append(deadlocked.length).append(" threads:");
            for (ThreadInfo info : threads.getThreadInfo(deadlocked)) {
                text.append(" \"").append(info.getThreadName()).append('"');
            }
            text.append('\n');
        }
        for (ThreadInfo info : threads.dumpAllThreads(true, true)) {
            append(text, info);
        }
        return text.toString();
    }

    /** ThreadInfo.toString stops at eight frames; a lock-order bug needs the whole stack. */
    private static void append(StringBuilder text, ThreadInfo info) {
        text.append('"').append(info.getThreadName()).append("\" ").append(info.getThreadState());
        if (info.getLockName() != null) {
            text.append(" on ").append(info.getLockName());
        }
        if (info.getLockOwnerName() != null) {
            text.append(" owned by \"").append(info.getLockOwnerName()).append('"');
        }
        text.append('\n');
        StackTraceElement[] stack = info.getStackTrace();
        for (int depth = 0; depth < stack.length; depth++) {
            text.append("\tat ").append(stack[depth]).append('\n');
            for (MonitorInfo monitor : info.getLockedMonitors()) {
                if (monitor.getLockedStackDepth() == depth) {
                    text.append("\t- locked ").append(monitor).append('\n');
                }
            }
        }
        for (LockInfo lock : info.getLockedSynchronizers()) {
            text.append("\t- holds ").append(lock).append('\n');
        }
        text.append('\n');
    }
}
