# Sourced by vmguard's scripts: finds a JDK >= 25 (JAVA_HOME first, then /usr/lib/jvm/*) and exports
# JAVA_HOME, or says in one line that there is none and exits 1.
# The launcher sources this on every run, so it starts no process when a JDK's "release" file names its version:
# each process (sed, a subshell) cost the launcher tens of milliseconds on a loaded host (docs/benchmarks.md,
# #session14-startup).
vmguard_required_java=25

# vmguard_java_major HOME: sets REPLY to the major version of the JDK in HOME; fails when HOME holds none.
vmguard_java_major() {
    local home=$1 line
    REPLY=""
    [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 1
    if [ -r "$home/release" ]; then
        while IFS= read -r line || [ -n "$line" ]; do
            if [[ $line =~ ^JAVA_VERSION=\"([0-9]+) ]]; then
                REPLY=${BASH_REMATCH[1]}
                break
            fi
        done < "$home/release"
    fi
    if [ -z "$REPLY" ]; then
        REPLY=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
    fi
    [ -n "$REPLY" ]
}

vmguard_find_jdk() {
    local candidate best="" best_major=0
    if [ -n "${JAVA_HOME:-}" ] && vmguard_java_major "$JAVA_HOME" && [ "$REPLY" -ge "$vmguard_required_java" ]; then
        return 0
    fi
    for candidate in /usr/lib/jvm/*; do
        [ -d "$candidate" ] && vmguard_java_major "$candidate" || continue
        if [ "$REPLY" -ge "$vmguard_required_java" ] && [ "$REPLY" -gt "$best_major" ]; then
            best=$candidate
            best_major=$REPLY
        fi
    done
    if [ -z "$best" ]; then
        echo "vmguard: needs a JDK $vmguard_required_java or newer; none found (JAVA_HOME=${JAVA_HOME:-unset}, /usr/lib/jvm/*). Install one and set JAVA_HOME." >&2
        exit 1
    fi
    export JAVA_HOME=$best
}

vmguard_find_jdk
