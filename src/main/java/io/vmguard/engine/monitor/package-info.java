/**
 * The engine-neutral monitoring contract: what an outside observer (introspection, antivirus) can arm in an
 * engine ({@link io.vmguard.engine.monitor.MonitorPlan}), the sealed set of events the engine reports
 * ({@link io.vmguard.engine.monitor.MonitorEvent}) and to whom ({@link io.vmguard.engine.monitor.MonitorListener}).
 * An engine offers what it can trap ({@link io.vmguard.engine.monitor.Monitoring#traps()}); observers fall back to
 * periodic checks for the rest. No observer code lives in an engine, and nothing is paid for a trap nobody armed.
 */
package io.vmguard.engine.monitor;
