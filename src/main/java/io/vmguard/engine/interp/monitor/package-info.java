/**
 * The interpreter's side of VMI monitoring: what a monitor armed, in the flat form the vCPUs test
 * ({@link io.vmguard.engine.interp.monitor.InterpMonitoring}), and the hooks through which system instructions
 * report what they did ({@link io.vmguard.engine.interp.monitor.MonitorHooks}). Depends on the cpu package only.
 */
package io.vmguard.engine.interp.monitor;
