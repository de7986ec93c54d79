/* green-run: run a program with libgreen preloaded.
 *
 * The wrapper turns each option into one GREEN_* variable, puts libgreen.so first in LD_PRELOAD
 * (once), refuses programs the loader would run without it, and execs the program. It never
 * checks option values: the library does that at start, so LD_PRELOAD users get the same check.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef GREEN_VERSION
#error "GREEN_VERSION must be defined by the build (meson.project_version())"
#endif
#ifndef GREEN_INSTALLED_LIBRARY
#error "GREEN_INSTALLED_LIBRARY must be defined by the build (prefix/libdir/libgreen/libgreen.so)"
#endif

/* The statuses env(1), nice(1) and timeout(1) use, so that callers can tell who failed. */
enum {
    EXIT_GREEN_RUN_FAILED = 125,
    EXIT_CANNOT_INVOKE = 126,
    EXIT_NOT_FOUND = 127,
};

/* Each option sets exactly one variable; a new option is one line here. */
struct green_option {
    const char *name;     /* without the leading "--" */
    const char *variable; /* the GREEN_* variable it sets */
    const char *flag_value; /* the value a flag sets; NULL when the option takes a value */
    const char *value_name; /* how --help names the value */
    const char *help;
};

static const struct green_option green_options[] = {
    { "stack-size", "GREEN_STACK_SIZE", NULL, "SIZE",
      "green thread stack size in bytes (K, M, G)" },
    { "stack-guard", "GREEN_STACK_GUARD", NULL, "auto|always|never",
      "when green thread stacks get a guard page" },
    { "stats", "GREEN_STATS", "1", NULL, "print a summary line on stderr at exit" },
    { "log", "GREEN_LOG", NULL, "error|warn|debug", "how much libgreen reports on stderr" },
    { "threads", "GREEN_THREADS", NULL, "green|native",
      "whether the program's threads become green threads (default) or stay OS threads" },
    { "resolver", "GREEN_RESOLVER", NULL, "ares|thread|native",
      "how getaddrinfo and friends wait: c-ares on the hub, glibc on workers, or glibc in place" },
    { "dns-servers", "GREEN_DNS_SERVERS", NULL, "HOST[:PORT],...",
      "name servers to use instead of /etc/resolv.conf's" },
};

#define GREEN_OPTION_COUNT (sizeof green_options / sizeof green_options[0])

/* What --list prints: every entry point libgreen.so interposes, from preload/entry_points.txt. */
struct green_entry_point {
    const char *name;
    const char *family;
    const char *mode; /* green, offloaded or pass-through */
    const char *note;
};

#include "entry_points.h"

#define GREEN_ENTRY_POINT_COUNT (sizeof green_entry_points / sizeof green_entry_points[0])

/* The build tree puts green-run in build/tools/green-run/ and the library in build/preload/. */
static const char build_tree_tool_dir[] = "/tools/green-run";
static const char build_tree_library[] = "/preload/libgreen.so";

static void die(int status, const char *format, ...) __attribute__((noreturn, format(printf, 2, 3)));

static void die(int status, const char *format, ...)
{
    va_list args;

    fputs("green-run: ", stderr);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    exit(status);
}

static char *xasprintf(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *format, ...)
{
    va_list args;
    char *result;

    va_start(args, format);
    if (vasprintf(&result, format, args) < 0)
        die(EXIT_GREEN_RUN_FAILED, "out of memory");
    va_end(args);
    return result;
}

/* Like coreutils' close_stdout: --help into a full disk must not report success. */
static void finish_stdout(void) __attribute__((noreturn));

static void finish_stdout(void)
{
    if (fflush(stdout) != 0 || ferror(stdout))
        die(EXIT_GREEN_RUN_FAILED, "write error: %s", strerror(errno ? errno : EIO));
    exit(EXIT_SUCCESS);
}

static void print_usage(void)
{
    printf("Usage: green-run [OPTION]... [--] PROGRAM [ARGUMENT]...\n"
           "Run PROGRAM with libgreen preloaded: its blocking I/O, sleeps and threads\n"
           "become green threads on a libuv hub.\n\n");
    for (size_t i = 0; i < GREEN_OPTION_COUNT; i++) {
        const struct green_option *option = &green_options[i];
        char *usage = option->value_name ? xasprintf("--%s=%s", option->name, option->value_name)
                                         : xasprintf("--%s", option->name);
        printf("  %-31s  %s\n  %-31s  (sets %s%s%s)\n", usage, option->help, "", option->variable,
               option->flag_value ? "=" : "", option->flag_value ? option->flag_value : "");
        free(usage);
    }
    printf("  %-31s  %s\n", "--list",
           "list every entry point libgreen interposes: family, and green, offloaded or pass-through");
    printf("  %-31s  %s\n  %-31s  %s\n\n", "--help", "display this help and exit", "--version",
           "output version information and exit");
    printf("An option's value may also follow as the next argument. Options stop at the\n"
           "first argument that is not one, or at '--'. libgreen checks every GREEN_* value\n"
           "when PROGRAM starts, and stops it with one line naming the variable if a value\n"
           "is bad.\n\n"
           "Exit status: 125 if green-run itself fails, 126 if PROGRAM cannot be run,\n"
           "127 if PROGRAM is not found, otherwise the exit status of PROGRAM.\n");
}

/* One line per entry point: NAME FAMILY MODE [NOTE]. green: a call that would block parks the
 * green thread; offloaded: it waits on the runtime's worker pool while only the calling green
 * thread waits; pass-through: libc does the work (the hook keeps the runtime's records). */
static void print_entry_points(void)
{
    for (size_t i = 0; i < GREEN_ENTRY_POINT_COUNT; i++) {
        const struct green_entry_point *e = &green_entry_points[i];
        if (e->note[0])
            printf("%-36s %-10s %-12s %s\n", e->name, e->family, e->mode, e->note);
        else
            printf("%-36s %-10s %s\n", e->name, e->family, e->mode);
    }
}

/* Sets the GREEN_* variables the options ask for; returns the index of PROGRAM in argv. */
static int parse_options(int argc, char **argv)
{
    int index = 1;

    for (; index < argc; index++) {
        const char *argument = argv[index];

        if (strcmp(argument, "--") == 0)
            return index + 1;
        if (argument[0] != '-' || argument[1] == '\0')
            return index;

        const char *equals = strchr(argument, '=');
        size_t name_length = equals ? (size_t)(equals - argument) : strlen(argument);
        const struct green_option *option = NULL;

        if (strncmp(argument, "--", 2) == 0) {
            const char *name = argument + 2;
            size_t length = name_length - 2;

            if (!equals && strcmp(name, "help") == 0) {
                print_usage();
                finish_stdout();
            }
            if (!equals && strcmp(name, "list") == 0) {
                print_entry_points();
                finish_stdout();
            }
            if (!equals && strcmp(name, "version") == 0) {
                printf("green-run (libgreen) %s\n", GREEN_VERSION);
                finish_stdout();
            }
            for (size_t i = 0; i < GREEN_OPTION_COUNT; i++) {
                if (strlen(green_options[i].name) == length
                    && strncmp(green_options[i].name, name, length) == 0)
                    option = &green_options[i];
            }
        }
        if (!option)
            die(EXIT_GREEN_RUN_FAILED, "unknown option '%.*s'; see 'green-run --help'",
                (int)name_length, argument);

        const char *value;
        if (option->flag_value) {
            if (equals)
                die(EXIT_GREEN_RUN_FAILED, "option '--%s' takes no value; see 'green-run --help'",
                    option->name);
            value = option->flag_value;
        } else if (equals) {
            value = equals + 1;
        } else if (index + 1 < argc) {
            value = argv[++index];
        } else {
            die(EXIT_GREEN_RUN_FAILED, "option '--%s' needs a value (%s); see 'green-run --help'",
                option->name, option->value_name);
        }
        if (setenv(option->variable, value, 1) != 0)
            die(EXIT_GREEN_RUN_FAILED, "cannot set %s: %s", option->variable, strerror(errno));
    }
    return index;
}

static bool is_regular_file(const char *path)
{
    struct stat status;

    return stat(path, &status) == 0 && S_ISREG(status.st_mode);
}

static bool ends_with(const char *string, size_t length, const char *suffix)
{
    size_t suffix_length = strlen(suffix);

    return length >= suffix_length && memcmp(string + length - suffix_length, suffix, suffix_length) == 0;
}

/* Returns the absolute path of libgreen.so. Never looks in the current directory: the library
 * runs inside every program started this way, so it must come from where green-run came from. */
static char *find_library(void)
{
    char *build_candidate = NULL;
    char *executable = realpath("/proc/self/exe", NULL);

    if (executable) {
        size_t dir_length = (size_t)(strrchr(executable, '/') - executable);

        /* Only a green-run that sits in the build tree's tools/green-run/ looks two levels up;
         * an installed one (say /usr/bin/green-run) must not pick up /preload/libgreen.so. */
        if (ends_with(executable, dir_length, build_tree_tool_dir)) {
            size_t root_length = dir_length - strlen(build_tree_tool_dir);
            build_candidate = xasprintf("%.*s%s", (int)root_length, executable, build_tree_library);
            if (is_regular_file(build_candidate)) {
                char *library = realpath(build_candidate, NULL);
                if (library) {
                    free(build_candidate);
                    free(executable);
                    return library;
                }
            }
        }
        free(executable);
    }
    if (is_regular_file(GREEN_INSTALLED_LIBRARY)) {
        free(build_candidate);
        return xasprintf("%s", GREEN_INSTALLED_LIBRARY);
    }
    if (build_candidate)
        die(EXIT_GREEN_RUN_FAILED,
            "cannot find libgreen.so (looked in %s and %s); reinstall libgreen or run green-run "
            "from its build directory",
            build_candidate, GREEN_INSTALLED_LIBRARY);
    die(EXIT_GREEN_RUN_FAILED,
        "cannot find libgreen.so (looked in %s); reinstall libgreen or run green-run from its "
        "build directory",
        GREEN_INSTALLED_LIBRARY);
}

/* The loader splits LD_PRELOAD at spaces and colons (glibc elf/rtld.c). */
static const char preload_separators[] = " :";

static bool same_file(const char *path, const struct stat *file)
{
    struct stat status;

    return stat(path, &status) == 0 && status.st_dev == file->st_dev && status.st_ino == file->st_ino;
}

static bool preload_list_has(const char *list, const char *library)
{
    struct stat library_status;
    bool have_status = stat(library, &library_status) == 0;
    char *copy = xasprintf("%s", list);
    char *cursor = copy;
    char *entry;
    bool found = false;

    while (!found && (entry = strsep(&cursor, preload_separators)) != NULL) {
        /* The same file under another spelling counts too: the loader would map it once. */
        found = strcmp(entry, library) == 0
                || (have_status && strchr(entry, '/') && same_file(entry, &library_status));
    }
    free(copy);
    return found;
}

/* AddressSanitizer refuses to start unless its runtime is the first object mapped; libgreen.so
 * comes first on purpose (green threads must reach it before the sanitizer's pthread_create,
 * which would take each for an OS thread: to the sanitizer they are fibers, announced at every
 * switch), so its check is turned off. */
static void allow_sanitizer_order(void)
{
    const char *options = getenv("ASAN_OPTIONS");
    char *value;

    if (!strstr(GREEN_SANITIZER_RUNTIME, "asan") || (options && strstr(options, "verify_asan_link_order")))
        return;
    value = options && *options ? xasprintf("%s:verify_asan_link_order=0", options)
                                : xasprintf("verify_asan_link_order=0");
    if (setenv("ASAN_OPTIONS", value, 1) != 0)
        die(EXIT_GREEN_RUN_FAILED, "cannot set ASAN_OPTIONS: %s", strerror(errno));
    free(value);
}

static void preload_library(const char *library)
{
    const char *current = getenv("LD_PRELOAD");
    int result;

    if (strpbrk(library, preload_separators))
        die(EXIT_GREEN_RUN_FAILED,
            "the path of libgreen.so (%s) contains a space or colon, which LD_PRELOAD cannot "
            "hold; install or build libgreen under a path without them",
            library);
    /* A sanitizer build of the library needs the sanitizer's runtime right after it, before
     * libc, whose malloc it must replace (libgreen.so only names it as a dependency, which the
     * loader would place after the program's). */
    const char *runtime = GREEN_SANITIZER_RUNTIME;
    bool have_library = current && preload_list_has(current, library);
    bool need_runtime = runtime[0] && !(current && preload_list_has(current, runtime));
    if (runtime[0])
        allow_sanitizer_order();
    if (have_library && !need_runtime)
        return;
    char *first = need_runtime ? xasprintf("%s:%s", library, runtime) : xasprintf("%s", library);
    if (current && *current) {
        char *list = xasprintf("%s:%s", first, current);
        result = setenv("LD_PRELOAD", list, 1);
        free(list);
    } else {
        result = setenv("LD_PRELOAD", first, 1);
    }
    free(first);
    if (result != 0)
        die(EXIT_GREEN_RUN_FAILED, "cannot set LD_PRELOAD: %s", strerror(errno));
}

/* Finds PROGRAM the way execvp does (an empty PATH element is the current directory), but
 * without running it, so that the file can be inspected first. */
static char *find_program(const char *name)
{
    if (strchr(name, '/'))
        return xasprintf("%s", name);
    if (*name == '\0')
        die(EXIT_NOT_FOUND, "'': command not found");

    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";

    bool denied = false;
    for (const char *element = path;; element++) {
        const char *end = strchrnul(element, ':');
        int length = (int)(end - element);
        char *candidate = length ? xasprintf("%.*s/%s", length, element, name) : xasprintf("%s", name);
        struct stat status;

        if (stat(candidate, &status) == 0) {
            if (S_ISREG(status.st_mode) && faccessat(AT_FDCWD, candidate, X_OK, AT_EACCESS) == 0)
                return candidate;
            /* execvp goes on searching after EACCES and reports it only if nothing else runs. */
            denied = true;
        }
        free(candidate);
        element = end;
        if (*end == '\0')
            break;
    }
    if (denied)
        die(EXIT_CANNOT_INVOKE, "%s: %s", name, strerror(EACCES));
    die(EXIT_NOT_FOUND, "%s: command not found", name);
}

/* What the program headers say about how a file will be loaded. */
struct elf_facts {
    bool is_elf;         /* a native-endian ELF file with readable program headers */
    bool has_interpreter; /* a PT_INTERP header: the kernel starts the dynamic loader */
    unsigned char elf_class;
    uint16_t machine;
    char interpreter[256];
};

static bool read_at(int fd, void *buffer, size_t size, uint64_t offset)
{
    return offset <= (uint64_t)INT64_MAX && pread(fd, buffer, size, (off_t)offset) == (ssize_t)size;
}

/* Reads the ELF header and program headers of both classes; leaves is_elf false for anything
 * it cannot read (a script, a foreign-endian or truncated file), so exec decides about those. */
static struct elf_facts read_elf_facts(int fd)
{
    struct elf_facts facts = { 0 };
    union {
        unsigned char ident[EI_NIDENT];
        Elf32_Ehdr h32;
        Elf64_Ehdr h64;
    } header;
    static const unsigned char native_data =
        __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB;

    memset(&header, 0, sizeof header);
    if (pread(fd, &header, sizeof header, 0) < (ssize_t)sizeof header.h32
        || memcmp(header.ident, ELFMAG, SELFMAG) != 0 || header.ident[EI_DATA] != native_data)
        return facts;

    bool is_64 = header.ident[EI_CLASS] == ELFCLASS64;
    if (!is_64 && header.ident[EI_CLASS] != ELFCLASS32)
        return facts;
    /* Object files and core dumps are not programs; exec says so (ENOEXEC). */
    uint16_t type = is_64 ? header.h64.e_type : header.h32.e_type;
    if (type != ET_EXEC && type != ET_DYN)
        return facts;

    uint64_t table = is_64 ? header.h64.e_phoff : header.h32.e_phoff;
    size_t entry_size = is_64 ? header.h64.e_phentsize : header.h32.e_phentsize;
    uint32_t count = is_64 ? header.h64.e_phnum : header.h32.e_phnum;
    facts.elf_class = header.ident[EI_CLASS];
    facts.machine = is_64 ? header.h64.e_machine : header.h32.e_machine;

    if (entry_size < (is_64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr)))
        return facts;
    if (count == PN_XNUM) {
        /* More than 0xfffe headers: the real count is in section header 0's sh_info. */
        union { Elf32_Shdr s32; Elf64_Shdr s64; } section;
        uint64_t sections = is_64 ? header.h64.e_shoff : header.h32.e_shoff;
        if (!read_at(fd, &section, is_64 ? sizeof section.s64 : sizeof section.s32, sections))
            return facts;
        count = is_64 ? section.s64.sh_info : section.s32.sh_info;
    }

    for (uint32_t i = 0; i < count; i++) {
        union { Elf32_Phdr p32; Elf64_Phdr p64; } program;
        if (!read_at(fd, &program, is_64 ? sizeof program.p64 : sizeof program.p32,
                     table + (uint64_t)i * entry_size))
            return facts;
        if ((is_64 ? program.p64.p_type : program.p32.p_type) != PT_INTERP)
            continue;
        uint64_t offset = is_64 ? program.p64.p_offset : program.p32.p_offset;
        uint64_t size = is_64 ? program.p64.p_filesz : program.p32.p_filesz;
        if (size > sizeof facts.interpreter - 1)
            size = sizeof facts.interpreter - 1;
        facts.has_interpreter = true;
        if (!read_at(fd, facts.interpreter, size, offset))
            facts.interpreter[0] = '\0';
        break;
    }
    facts.is_elf = true;
    return facts;
}

static struct elf_facts read_elf_facts_of(const char *path)
{
    struct elf_facts facts = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        facts = read_elf_facts(fd);
        close(fd);
    }
    return facts;
}

/* ld.so has no PT_INTERP, yet "green-run /lib64/ld-linux-x86-64.so.2 PROGRAM" honours
 * LD_PRELOAD: the dynamic loader is recognised as the one green-run itself was started by. */
static bool is_dynamic_loader(const struct stat *program)
{
    struct elf_facts self = read_elf_facts_of("/proc/self/exe");

    return self.has_interpreter && self.interpreter[0] && same_file(self.interpreter, program);
}

/* Whether the file carries capabilities that make an exec by a non-root user secure. */
static bool has_file_capabilities(const char *path)
{
    /* struct vfs_cap_data, little-endian: magic_etc (bit 0: effective), then {permitted,
     * inheritable} for the low and (from revision 2) the high 32 capabilities. The kernel
     * marks the exec secure if the effective bit is set or permitted capabilities are gained. */
    unsigned char data[24] = { 0 };
    ssize_t size = getxattr(path, "security.capability", data, sizeof data);

    if (size < 12)
        return false;
    if (data[0] & 1)
        return true;
    for (int i = 0; i < 4; i++) {
        if (data[4 + i] || data[12 + i])
            return true;
    }
    return false;
}

static const char *describe_machine(const struct elf_facts *facts)
{
    static char buffer[64];
    const char *bits = facts->elf_class == ELFCLASS64 ? "64-bit" : "32-bit";
    const char *name;

    switch (facts->machine) {
    case EM_X86_64: name = "x86-64"; break;
    case EM_386: name = "i386"; break;
    case EM_AARCH64: name = "aarch64"; break;
    case EM_ARM: name = "arm"; break;
    default: snprintf(buffer, sizeof buffer, "%s ELF machine %u", bits, facts->machine); return buffer;
    }
    snprintf(buffer, sizeof buffer, "%s %s", bits, name);
    return buffer;
}

/* The loader ignores LD_PRELOAD in secure-execution mode (AT_SECURE). The kernel sets it when
 * the new effective IDs differ from the caller's real ones, or when file capabilities raise the
 * privileges of a caller whose real user is not root (security/commoncap.c). */
static void check_not_secure_execution(const char *name, const char *path, const struct stat *status)
{
    uid_t new_uid = (status->st_mode & S_ISUID) ? status->st_uid : geteuid();
    gid_t new_gid = (status->st_mode & S_ISGID) ? status->st_gid : getegid();
    const char *reason = NULL;

    if (new_uid != getuid())
        reason = (status->st_mode & S_ISUID) ? "is setuid to another user"
                                              : "would run with an effective user ID other than the real one";
    else if (new_gid != getgid())
        reason = (status->st_mode & S_ISGID) ? "is setgid to another group"
                                              : "would run with an effective group ID other than the real one";
    else if (getuid() != 0 && has_file_capabilities(path))
        reason = "has file capabilities";
    if (reason)
        die(EXIT_GREEN_RUN_FAILED,
            "%s %s; the loader runs it in secure-execution mode and ignores LD_PRELOAD, so it "
            "would run without libgreen.",
            name, reason);
}

/* Refuses programs the loader would start without libgreen: the user asked for green threads,
 * and a program that silently runs with native ones is the worse outcome. */
static void check_program_reachable(const char *name, const char *path, const char *library)
{
    struct stat status;

    if (stat(path, &status) != 0 || !S_ISREG(status.st_mode))
        return; /* exec reports it */

    /* On a nosuid mount the kernel ignores set-id bits and file capabilities alike. */
    struct statvfs filesystem;
    bool set_id_honoured = statvfs(path, &filesystem) != 0 || !(filesystem.f_flag & ST_NOSUID);

    if (set_id_honoured)
        check_not_secure_execution(name, path, &status);

    struct elf_facts program = read_elf_facts_of(path);
    if (!program.is_elf)
        return; /* a script (its interpreter is dynamic), or unreadable: exec decides */
    if (!program.has_interpreter && !is_dynamic_loader(&status))
        die(EXIT_GREEN_RUN_FAILED,
            "%s is statically linked; LD_PRELOAD cannot reach it, so it would run without "
            "libgreen. Use a dynamically linked build.",
            name);

    struct elf_facts green = read_elf_facts_of(library);
    if (green.is_elf && (program.elf_class != green.elf_class || program.machine != green.machine)) {
        char *program_kind = xasprintf("%s", describe_machine(&program));
        die(EXIT_GREEN_RUN_FAILED,
            "%s is a %s program and libgreen.so is %s; the loader cannot preload it there, so "
            "it would run without libgreen.",
            name, program_kind, describe_machine(&green));
    }
}

int main(int argc, char **argv)
{
    int program_index = parse_options(argc, argv);

    if (program_index >= argc)
        die(EXIT_GREEN_RUN_FAILED, "no program given; see 'green-run --help'");

    const char *name = argv[program_index];
    char *library = find_library();
    char *path = find_program(name);

    check_program_reachable(name, path, library);
    preload_library(library);
    execv(path, &argv[program_index]);
    int error = errno;
    if (error == ENOEXEC) {
        /* As execvp, and so env(1): an executable file without #! is a shell script. */
        int count = argc - program_index;
        char **shell_argv = calloc((size_t)count + 2, sizeof *shell_argv);
        if (shell_argv) {
            shell_argv[0] = (char *)"/bin/sh";
            shell_argv[1] = path;
            for (int i = 1; i < count; i++)
                shell_argv[i + 1] = argv[program_index + i];
            execv("/bin/sh", shell_argv);
            error = errno;
        }
    }
    /* As env(1): a file that is there but cannot be run is 126, a missing one 127. */
    die(error == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_INVOKE, "%s: %s", name, strerror(error));
}
