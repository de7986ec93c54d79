#!/bin/sh
# Checks green-run as a user sees it: exit statuses, stderr lines, the environment the program
# gets. Usage: test-green-run.sh GREEN_RUN LIBGREEN_SO   (CC may name a C compiler)
# Stops at the first failed case and names it.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 GREEN_RUN LIBGREEN_SO" >&2
    exit 2
fi
green_run=$(readlink -f "$1")
library=$(readlink -f "$2")
# A sanitizer build's green-run puts the sanitizer's runtime right after the library
# (SANITIZER_RUNTIME, from meson).
then=${SANITIZER_RUNTIME:+:$SANITIZER_RUNTIME}
cc=${CC:-cc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-green-run.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
case_name=

start() { case_name=$1; }
pass() { echo "ok: $case_name"; }
skip() { echo "skip: $case_name: $1"; }
fail() {
    echo "FAIL: $case_name: $1" >&2
    echo "--- stdout:" >&2; cat "$tmp/out" >&2 2>/dev/null
    echo "--- stderr:" >&2; cat "$tmp/err" >&2 2>/dev/null
    exit 1
}

# run COMMAND...: records stdout, stderr and the exit status.
run() {
    "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
}
expect_status() { [ "$status" -eq "$1" ] || fail "exit status $status, expected $1"; }
expect_no_stdout() { [ ! -s "$tmp/out" ] || fail "green-run wrote to stdout"; }
expect_one_stderr_line() {
    [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "expected exactly one line on stderr"
    grep -q "$1" "$tmp/err" || fail "stderr does not say '$1'"
}
expect_stdout_line() { grep -qx -- "$1" "$tmp/out" || fail "stdout has no line '$1'"; }

# compile NAME FLAGS...: builds a trivial C program into $tmp/NAME; fails quietly without a
# compiler or (for -static) without a static libc.
compile() {
    name=$1; shift
    printf 'int main(void) { return 0; }\n' >"$tmp/main.c"
    # shellcheck disable=SC2086 # CC may hold several words (ccache cc)
    $cc "$@" -o "$tmp/$name" "$tmp/main.c" >/dev/null 2>&1
}

# bytes N...: writes each number as one byte.
bytes() {
    for byte in "$@"; do
        # shellcheck disable=SC2059 # the format is the escape being built
        printf "\\$(printf %03o "$byte")"
    done
}

# elf32 FILE PT_TYPE: a 32-bit little-endian i386 executable header with one program header of
# the given type (3 is PT_INTERP, pointing at /lib/ld-linux.so.2; 1 is PT_LOAD).
elf32() {
    {
        bytes 127 69 76 70 1 1 1 0 0 0 0 0 0 0 0 0  # e_ident: ELFCLASS32, ELFDATA2LSB
        bytes 2 0 3 0 1 0 0 0                        # ET_EXEC, EM_386, EV_CURRENT
        bytes 0 128 4 8 52 0 0 0 0 0 0 0 0 0 0 0     # e_entry, e_phoff 52, e_shoff, e_flags
        bytes 52 0 32 0 1 0 40 0 0 0 0 0            # e_ehsize, e_phentsize 32, e_phnum 1
        bytes "$2" 0 0 0 84 0 0 0 0 0 0 0 0 0 0 0    # p_type, p_offset 84, p_vaddr, p_paddr
        bytes 19 0 0 0 19 0 0 0 4 0 0 0 1 0 0 0     # p_filesz 19, p_memsz, p_flags, p_align
        printf '/lib/ld-linux.so.2\0'
    } >"$1"
    chmod 755 "$1"
}

start "--help prints usage on stdout and exits 0"
run "$green_run" --help
expect_status 0
grep -q '^Usage: green-run' "$tmp/out" || fail "no usage line on stdout"
grep -q 'GREEN_STATS' "$tmp/out" || fail "usage does not name the variables"
[ ! -s "$tmp/err" ] || fail "stderr is not empty"
pass

start "--version prints the version on stdout and exits 0"
run "$green_run" --version
expect_status 0
grep -Eq '^green-run \(libgreen\) [0-9]+\.[0-9]+\.[0-9]+$' "$tmp/out" || fail "bad version line"
[ ! -s "$tmp/err" ] || fail "stderr is not empty"
pass

start "--help reports a write error"
if [ -w /dev/full ]; then
    run sh -c '"$1" --help >/dev/full' sh "$green_run"
    expect_status 125
    pass
else
    skip "no /dev/full"
fi

start "an unknown option exits 125 with one line on stderr"
run "$green_run" --foo env
expect_status 125
expect_no_stdout
expect_one_stderr_line "unknown option '--foo'; see 'green-run --help'"
pass

start "an option without its value exits 125"
run "$green_run" --log
expect_status 125
expect_no_stdout
expect_one_stderr_line "'--log'"
pass

start "no program exits 125 with one line"
run "$green_run" --stats
expect_status 125
expect_no_stdout
expect_one_stderr_line "green-run: "
pass

start "a program that is not on PATH exits 127"
run "$green_run" green-run-test-no-such-program
expect_status 127
expect_no_stdout
expect_one_stderr_line "green-run: green-run-test-no-such-program: command not found"
pass

start "a missing program path exits 127"
run "$green_run" "$tmp/no-such-program"
expect_status 127
expect_no_stdout
expect_one_stderr_line "No such file or directory"
pass

start "a file without execute permission exits 126"
printf '#!/bin/sh\nexit 0\n' >"$tmp/not-executable"
chmod 644 "$tmp/not-executable" # no x bit at all: even root cannot run it
run "$green_run" "$tmp/not-executable"
expect_status 126
expect_no_stdout
expect_one_stderr_line "Permission denied"
run env PATH="$tmp" "$green_run" not-executable
expect_status 126
expect_one_stderr_line "green-run: not-executable: Permission denied"
pass

start "a directory exits 126"
mkdir "$tmp/directory"
run "$green_run" "$tmp/directory"
expect_status 126
expect_no_stdout
expect_one_stderr_line "Permission denied"
run env PATH="$tmp" "$green_run" directory
expect_status 126
pass

start "an executable file without #! runs with /bin/sh, as env runs it"
printf 'echo "from sh: $1"\nexit 3\n' >"$tmp/noshebang"
chmod 755 "$tmp/noshebang"
run "$green_run" "$tmp/noshebang" arg
expect_status 3
native_out=$(env "$tmp/noshebang" arg) || true
[ "$(cat "$tmp/out")" = "$native_out" ] || fail "stdout differs from env: $native_out"
pass

start "a statically linked program exits 125 and says why"
if compile static -static; then
    run "$green_run" "$tmp/static"
    expect_status 125
    expect_no_stdout
    expect_one_stderr_line "is statically linked; LD_PRELOAD cannot reach it"
    pass
else
    skip "no C compiler with a static libc (CC=$cc)"
fi

start "a static-pie program exits 125 and says why"
if compile static-pie -static-pie; then
    run "$green_run" "$tmp/static-pie"
    expect_status 125
    expect_one_stderr_line "is statically linked"
    pass
else
    skip "the C compiler cannot link -static-pie"
fi

start "a 32-bit static ELF exits 125 as statically linked"
elf32 "$tmp/elf32-static" 1
run "$green_run" "$tmp/elf32-static"
expect_status 125
expect_one_stderr_line "is statically linked"
pass

start "a 32-bit dynamic ELF exits 125: the 64-bit library cannot be preloaded into it"
elf32 "$tmp/elf32-dynamic" 3
run "$green_run" "$tmp/elf32-dynamic"
expect_status 125
expect_one_stderr_line "is a 32-bit i386 program and libgreen.so is 64-bit x86-64"
pass

start "a setuid program owned by someone else exits 125"
setuid_program=
if [ "$(id -u)" -eq 0 ]; then
    # Any dynamically linked program will do: green-run refuses it before running it.
    cp "$(command -v env)" "$tmp/setuid" && chown 65534 "$tmp/setuid" && chmod 4755 "$tmp/setuid"
    if command -v findmnt >/dev/null && findmnt -no OPTIONS --target "$tmp" | grep -qw nosuid; then
        skip "$tmp is mounted nosuid"
    else
        setuid_program=$tmp/setuid
    fi
else
    for candidate in /usr/bin/passwd /usr/bin/su /bin/su /usr/bin/mount /bin/mount; do
        if [ -u "$candidate" ] && [ ! -O "$candidate" ]; then
            setuid_program=$candidate
            break
        fi
    done
    [ -n "$setuid_program" ] || skip "no setuid program owned by another user"
fi
if [ -n "$setuid_program" ]; then
    run "$green_run" "$setuid_program"
    expect_status 125
    expect_no_stdout
    expect_one_stderr_line "setuid.*LD_PRELOAD"
    pass
fi

start "LD_PRELOAD starts with the library"
run "$green_run" env
expect_status 0
expect_stdout_line "LD_PRELOAD=$library$then"
pass

start "nested green-run puts the library in LD_PRELOAD once"
run "$green_run" "$green_run" env
expect_status 0
expect_stdout_line "LD_PRELOAD=$library$then"
pass

start "an existing LD_PRELOAD entry is kept after the library"
if compile other.so -shared -fPIC; then
    other=$tmp/other.so
else
    other=$tmp/missing.so # the loader warns on stderr and goes on; only stdout is checked
fi
run env LD_PRELOAD="$other" "$green_run" "$green_run" env
expect_status 0
expect_stdout_line "LD_PRELOAD=$library$then:$other"
pass

start "a library already in LD_PRELOAD, under any spelling, is left where it is"
ln -s "$library" "$tmp/link.so"
run env LD_PRELOAD="$other:$library" "$green_run" env
expect_status 0
expect_stdout_line "LD_PRELOAD=${SANITIZER_RUNTIME:+$library$then:}$other:$library"
run env LD_PRELOAD="$tmp/link.so" "$green_run" env
expect_status 0
expect_stdout_line "LD_PRELOAD=${SANITIZER_RUNTIME:+$library$then:}$tmp/link.so"
pass

start "--stats sets GREEN_STATS=1"
run env -u GREEN_STATS "$green_run" --stats env
expect_status 0
expect_stdout_line "GREEN_STATS=1"
pass

start "an option takes its value after '=' or as the next argument"
run "$green_run" --log=warn --stack-guard auto env
expect_status 0
expect_stdout_line "GREEN_LOG=warn"
expect_stdout_line "GREEN_STACK_GUARD=auto"
pass

start "'--' ends the options"
run "$green_run" -- env
expect_status 0
expect_stdout_line "LD_PRELOAD=$library$then"
run "$green_run" -- --stats
expect_status 127
pass

start "options stop at the program"
# shellcheck disable=SC2016 # the inner shell expands them
run env -u GREEN_STATS "$green_run" sh -c 'echo "$1"; echo "stats=${GREEN_STATS-unset}"' sh --stats
expect_status 0
expect_stdout_line "--stats"
expect_stdout_line "stats=unset"
pass

start "argv[0] is passed as given"
# shellcheck disable=SC2016 # $$ belongs to the inner shell
run "$green_run" sh -c 'tr "\0" "\n" </proc/$$/cmdline | head -n 1'
expect_status 0
expect_stdout_line "sh"
pass

start "the program's exit status passes through"
run "$green_run" sh -c 'exit 7'
expect_status 7
pass

start "the build tree library is found next to a copied build layout, never from elsewhere"
mkdir -p "$tmp/build/tools/green-run" "$tmp/build/preload" "$tmp/elsewhere/a/b" "$tmp/elsewhere/preload"
cp "$green_run" "$tmp/build/tools/green-run/green-run"
cp "$library" "$tmp/build/preload/libgreen.so"
run "$tmp/build/tools/green-run/green-run" env
expect_status 0
expect_stdout_line "LD_PRELOAD=$tmp/build/preload/libgreen.so$then"
cp "$green_run" "$tmp/elsewhere/a/b/green-run"
cp "$library" "$tmp/elsewhere/preload/libgreen.so"
(cd "$tmp/elsewhere/preload" && "$tmp/elsewhere/a/b/green-run" env >"$tmp/out" 2>"$tmp/err")
status=$?
if grep -q "^LD_PRELOAD=.*$tmp/elsewhere" "$tmp/out"; then
    fail "a green-run outside the build layout used a library beside it"
fi
if [ "$status" -eq 125 ]; then
    expect_one_stderr_line "cannot find libgreen.so (looked in .*); reinstall libgreen"
fi
pass

echo "all green-run cases passed"
