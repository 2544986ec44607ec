package io.vmguard.vmi.linux;

/** The task a vCPU was running when the view was taken ({@code pcpu_hot.current_task} of its CPU). */
public record CurrentTask(int vcpu, long perCpuBase, LinuxTask task) {}
