/*
 * A Multiboot v1 test kernel for vmguard (32-bit, freestanding): checks what the loader handed it (the
 * magic in EAX, the information's flags, mem_lower/mem_upper against the memory map, the command line),
 * prints its findings on COM1 and leaves through the debug-exit port 0xf4 with 0 when everything held,
 * else the number of the first failed check.
 */
#include <stdint.h>

struct multiboot_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
    uint32_t drives_length, drives_addr, config_table, boot_loader_name;
};

struct mmap_entry {
    uint32_t size;
    uint64_t base, length;
    uint32_t type;
} __attribute__((packed));

static inline void outb(uint16_t port, uint8_t value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static void putc(char c) {
    while (!(inb(0x3f8 + 5) & 0x20)) {
    }
    outb(0x3f8, (uint8_t) c);
}

static void puts(const char *s) {
    while (*s) {
        putc(*s++);
    }
}

static void putu(uint32_t value) {
    char digits[11];
    int n = 0;
    do {
        digits[n++] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    while (n) {
        putc(digits[--n]);
    }
}

static int contains(const char *haystack, const char *needle) {
    for (; *haystack; haystack++) {
        const char *h = haystack, *n = needle;
        while (*n && *h == *n) {
            h++;
            n++;
        }
        if (!*n) {
            return 1;
        }
    }
    return 0;
}

static void leave(int status) {
    puts(status == 0 ? "multiboot: all checks passed\n" : "multiboot: check failed\n");
    outb(0xf4, (uint8_t) status);
    for (;;) {
        __asm__ volatile("hlt");
    }
}

void kmain(uint32_t magic, const struct multiboot_info *info) {
    puts("multiboot: entered\n");
    if (magic != 0x2BADB002) {
        leave(1);
    }
    if ((info->flags & (1 << 0)) == 0 || (info->flags & (1 << 6)) == 0 || (info->flags & (1 << 2)) == 0) {
        leave(2);
    }
    /* mem_upper must be the RAM from 1 MiB up to the first hole, as the memory map has it. */
    uint64_t upper = 0, low = 0, total = 0;
    uint32_t entries = 0;
    for (uint32_t at = info->mmap_addr; at < info->mmap_addr + info->mmap_length;) {
        const struct mmap_entry *e = (const struct mmap_entry *) at;
        if (e->type == 1) {
            total += e->length;
            if (e->base == 0) {
                low = e->length;
            }
            if (e->base <= 0x100000 && e->base + e->length > 0x100000) {
                upper = e->base + e->length - 0x100000;
            }
        }
        entries++;
        at += e->size + 4;
    }
    puts("multiboot: mem_lower=");
    putu(info->mem_lower);
    puts(" mem_upper=");
    putu(info->mem_upper);
    puts(" map_entries=");
    putu(entries);
    puts(" ram_kib=");
    putu((uint32_t) (total >> 10));
    puts("\n");
    if (entries < 2 || info->mem_upper != (uint32_t) (upper >> 10) || info->mem_lower != (uint32_t) (low >> 10)) {
        leave(3);
    }
    const char *cmdline = (const char *) info->cmdline;
    puts("multiboot: cmdline=");
    puts(cmdline);
    puts("\n");
    if (!contains(cmdline, "mbtest=42")) {
        leave(4);
    }
    if (info->flags & (1 << 9)) {
        puts("multiboot: loader=");
        puts((const char *) info->boot_loader_name);
        puts("\n");
    }
    leave(0);
}
