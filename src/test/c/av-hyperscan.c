/*
 * Hyperscan yardstick for scripts/bench-av: compiles one regex per line of PATTERNS (the generated .ndb
 * signatures translated by the benchmark, av.md §2.6) into a block-mode database with HS_FLAG_DOTALL |
 * HS_FLAG_SINGLEMATCH, then scans each CORPUS file as one block and counts the patterns that match.
 * Prints one JSON object: compile seconds, database bytes, patterns compiled and skipped, and per corpus
 * the best of ROUNDS scan times and the match count.
 *   av-hyperscan PATTERNS ROUNDS CORPUS...
 */
#include <hs/hs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int on_match(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx) {
    (void) id; (void) from; (void) to; (void) flags;
    ++*(unsigned long long *) ctx;
    return 0;
}

static char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "av-hyperscan: cannot open %s\n", path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc(n + 1);
    if (!data || fread(data, 1, n, f) != (size_t) n) { fprintf(stderr, "av-hyperscan: cannot read %s\n", path); exit(2); }
    fclose(f);
    data[n] = 0;
    *size = n;
    return data;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: av-hyperscan PATTERNS ROUNDS CORPUS...\n"); return 2; }
    size_t text_size;
    char *text = read_file(argv[1], &text_size);
    int rounds = atoi(argv[2]);
    size_t cap = 1024, count = 0;
    char **exprs = malloc(cap * sizeof *exprs);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (count == cap) exprs = realloc(exprs, (cap *= 2) * sizeof *exprs);
        exprs[count++] = line;
    }
    unsigned *flags = malloc(count * sizeof *flags);
    unsigned *ids = malloc(count * sizeof *ids);
    const char **live = malloc(count * sizeof *live);
    /* Drop what Hyperscan cannot take at all (checked one by one, cheaply), then compile the rest at once;
       a pattern the whole compile rejects is dropped too and the compile retried. */
    size_t n = 0, skipped = 0;
    for (size_t i = 0; i < count; i++) {
        hs_expr_info_t *info = NULL;
        hs_compile_error_t *err = NULL;
        if (hs_expression_info(exprs[i], HS_FLAG_DOTALL, &info, &err) != HS_SUCCESS) {
            if (skipped < 3) fprintf(stderr, "av-hyperscan: skipping pattern %zu: %s\n", i, err->message);
            hs_free_compile_error(err);
            skipped++;
            continue;
        }
        free(info);
        live[n] = exprs[i];
        ids[n] = (unsigned) i;
        flags[n] = HS_FLAG_DOTALL | HS_FLAG_SINGLEMATCH;
        n++;
    }
    hs_database_t *db = NULL;
    double started = now();
    for (;;) {
        hs_compile_error_t *err = NULL;
        if (hs_compile_multi(live, flags, ids, (unsigned) n, HS_MODE_BLOCK, NULL, &db, &err) == HS_SUCCESS) break;
        if (err->expression < 0) { fprintf(stderr, "av-hyperscan: compile failed: %s\n", err->message); return 1; }
        fprintf(stderr, "av-hyperscan: dropping pattern %u: %s\n", ids[err->expression], err->message);
        int at = err->expression;
        memmove(live + at, live + at + 1, (n - at - 1) * sizeof *live);
        memmove(ids + at, ids + at + 1, (n - at - 1) * sizeof *ids);
        n--;
        skipped++;
        hs_free_compile_error(err);
    }
    double compile = now() - started;
    fprintf(stderr, "hyperscan: %zu patterns compiled in %.1f s (%zu skipped)\n", n, compile, skipped);
    size_t db_size = 0;
    hs_database_size(db, &db_size);
    hs_scratch_t *scratch = NULL;
    if (hs_alloc_scratch(db, &scratch) != HS_SUCCESS) { fprintf(stderr, "av-hyperscan: no scratch\n"); return 1; }
    printf("{\"compile_seconds\":%.3f,\"database_bytes\":%zu,\"patterns\":%zu,\"skipped\":%zu,\"scans\":[",
           compile, db_size, n, skipped);
    for (int c = 3; c < argc; c++) {
        size_t size;
        char *data = read_file(argv[c], &size);
        double best = 1e30;
        unsigned long long matches = 0;
        for (int r = 0; r < rounds; r++) {
            matches = 0;
            double t = now();
            if (hs_scan(db, data, (unsigned) size, 0, scratch, on_match, &matches) != HS_SUCCESS) {
                fprintf(stderr, "av-hyperscan: scan failed\n");
                return 1;
            }
            t = now() - t;
            if (t < best) best = t;
        }
        fprintf(stderr, "hyperscan: %s: best of %d scans %.3f s, %llu patterns match\n", argv[c], rounds, best, matches);
        printf("%s{\"file\":\"%s\",\"bytes\":%zu,\"seconds\":%.6f,\"matches\":%llu}", c > 3 ? "," : "", argv[c], size, best, matches);
        free(data);
    }
    printf("]}\n");
    hs_free_scratch(scratch);
    hs_free_database(db);
    return 0;
}
