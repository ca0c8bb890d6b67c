/* The errors-only imitation, compiled once: the same decisions as imitation_program.respond (the
 * specification; tests/test_validity.py checks that both agree), reading what the probes showed from a
 * blob appended to this executable: [blob][u32 blob length]["TBIMIT01"]. Everything else exits 0 silently. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct { const char *p; uint32_t n; } str;
typedef struct { uint32_t argc; str *argv; int32_t status; str out, err; } exact_t;
typedef struct { int present; int32_t status; str out, err; int bare; } template_t;

enum { UNKNOWN_LONG, UNKNOWN_SHORT, MISSING_VALUE_LONG, MISSING_VALUE_SHORT, MISSING_FILE, KINDS };
static const char MARK[] = "TBIMIT01";
static const char WORD[] = "\0WORD\0";
#define WORD_LEN 6

static const char *cursor, *end;
static uint32_t n_exact, n_long, n_long_value;
static exact_t *exact;
static str *longs, *long_values, shorts, short_values;
static template_t templates[KINDS];

static uint32_t u32(void) {
    uint32_t v;
    if (end - cursor < 4) exit(0);
    memcpy(&v, cursor, 4);
    cursor += 4;
    return v;
}

static str text(void) {
    str s;
    s.n = u32();
    if ((uint32_t)(end - cursor) < s.n) exit(0);
    s.p = cursor;
    cursor += s.n;
    return s;
}

static void load(void) {
    FILE *f = fopen("/proc/self/exe", "rb");
    if (!f) exit(0);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    char *all = malloc(size);
    fseek(f, 0, SEEK_SET);
    if (!all || fread(all, 1, size, f) != (size_t)size || size < 12 || memcmp(all + size - 8, MARK, 8)) exit(0);
    uint32_t blob;
    memcpy(&blob, all + size - 12, 4);
    cursor = all + size - 12 - blob;
    end = all + size - 12;
    n_exact = u32();
    exact = calloc(n_exact + 1, sizeof *exact);
    for (uint32_t i = 0; i < n_exact; i++) {
        exact[i].argc = u32();
        exact[i].argv = calloc(exact[i].argc + 1, sizeof(str));
        for (uint32_t j = 0; j < exact[i].argc; j++) exact[i].argv[j] = text();
        exact[i].status = (int32_t)u32();
        exact[i].out = text();
        exact[i].err = text();
    }
    n_long = u32();
    longs = calloc(n_long + 1, sizeof(str));
    for (uint32_t i = 0; i < n_long; i++) longs[i] = text();
    n_long_value = u32();
    long_values = calloc(n_long_value + 1, sizeof(str));
    for (uint32_t i = 0; i < n_long_value; i++) long_values[i] = text();
    shorts = text();
    short_values = text();
    for (int k = 0; k < KINDS; k++) {
        templates[k].present = (int)u32();
        if (!templates[k].present) continue;
        templates[k].status = (int32_t)u32();
        templates[k].out = text();
        templates[k].err = text();
        templates[k].bare = (int)u32();
    }
}

static int eq(str s, const char *c) { return strlen(c) == s.n && memcmp(s.p, c, s.n) == 0; }
static int has(str set, char c) { return c && memchr(set.p, c, set.n) != NULL; }

static void reply(int status, str out, str err) {
    fwrite(out.p, 1, out.n, stdout);
    fflush(stdout);
    fwrite(err.p, 1, err.n, stderr);
    fflush(stderr);
    exit(status);
}

static void put_filled(FILE *stream, str s, const char *word) {
    const char *p = s.p, *stop = s.p + s.n;
    while (p < stop) {
        const char *hit = stop - p >= WORD_LEN ? memmem(p, stop - p, WORD, WORD_LEN) : NULL;
        if (!hit) { fwrite(p, 1, stop - p, stream); break; }
        fwrite(p, 1, hit - p, stream);
        fputs(word, stream);
        p = hit + WORD_LEN;
    }
    fflush(stream);
}

static void fill(int kind, const char *arg) {
    template_t *t = &templates[kind];
    if (!t->present) exit(0);
    const char *word = arg;
    if (t->bare) while (*word == '-') word++;
    put_filled(stdout, t->out, word);
    put_filled(stderr, t->err, word);
    exit(t->status);
}

/* the probed reply to this flag alone, when it succeeded */
static void exact_alone(const char *flag) {
    for (uint32_t i = 0; i < n_exact; i++)
        if (exact[i].argc == 1 && exact[i].status == 0 && eq(exact[i].argv[0], flag))
            reply(0, exact[i].out, exact[i].err);
}

/* the documented long option `name` (length n) stands for; NULL if none or ambiguous */
static const str *expand(const char *name, size_t n) {
    const str *match = NULL;
    int count = 0;
    for (uint32_t i = 0; i < n_long; i++) {
        if (longs[i].n == n && memcmp(longs[i].p, name, n) == 0) return &longs[i];
        if (longs[i].n > n && memcmp(longs[i].p, name, n) == 0) { match = &longs[i]; count++; }
    }
    return count == 1 ? match : NULL;
}

static int takes_value(const str *full) {
    for (uint32_t i = 0; i < n_long_value; i++)
        if (long_values[i].n == full->n && memcmp(long_values[i].p, full->p, full->n) == 0) return 1;
    return 0;
}

int main(int argc, char **argv) {
    load();
    for (uint32_t i = 0; i < n_exact; i++) {
        if (exact[i].argc != (uint32_t)(argc - 1)) continue;
        int same = 1;
        for (uint32_t j = 0; j < exact[i].argc && same; j++) same = eq(exact[i].argv[j], argv[j + 1]);
        if (same) reply(exact[i].status, exact[i].out, exact[i].err);
    }
    char **positionals = calloc(argc + 1, sizeof(char *));
    int n_positionals = 0, index = 1;
    while (index < argc) {
        char *arg = argv[index++];
        if (strcmp(arg, "--") == 0) {
            while (index < argc) positionals[n_positionals++] = argv[index++];
            break;
        }
        if (strncmp(arg, "--", 2) == 0) {
            char *eqsign = strchr(arg, '=');
            size_t n = eqsign ? (size_t)(eqsign - arg) : strlen(arg);
            const str *full = expand(arg, n);
            if (!full) {
                char *name = strndup(arg, n);
                fill(UNKNOWN_LONG, name);
            }
            char *flag = strndup(full->p, full->n);
            exact_alone(flag);
            if (takes_value(full) && !eqsign) {
                if (index >= argc) fill(MISSING_VALUE_LONG, flag);
                index++;
            }
        } else if (arg[0] == '-' && arg[1]) {
            size_t length = strlen(arg);
            for (size_t position = 1; position < length; position++) {
                char flag[3] = {'-', arg[position], 0};
                if (!has(shorts, arg[position])) fill(UNKNOWN_SHORT, flag);
                exact_alone(flag);
                if (has(short_values, arg[position])) {
                    if (position == length - 1) {
                        if (index >= argc) fill(MISSING_VALUE_SHORT, flag);
                        index++;
                    }
                    break;
                }
            }
        } else {
            positionals[n_positionals++] = arg;
        }
    }
    struct stat st;
    for (int i = 0; i < n_positionals; i++)
        if (strcmp(positionals[i], "-") != 0 && templates[MISSING_FILE].present && stat(positionals[i], &st) != 0)
            fill(MISSING_FILE, positionals[i]);
    return 0;
}
