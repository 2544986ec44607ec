package io.vmguard.sched;

/** One kernel thread of a process: its id, its name (comm) and the role the name gives it. */
public record HostThread(int tid, String name, ThreadRole role) {}
