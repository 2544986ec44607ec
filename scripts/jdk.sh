# Sourced by vmguard's scripts: finds a JDK >= 25 (JAVA_HOME first, then /usr/lib/jvm/*) and exports
# JAVA_HOME, or says in one line that there is none and exits 1.
vmguard_required_java=25

vmguard_java_major() {
    # The JDK's "release" file names its version without starting a JVM.
    local home=$1 version
    [ -x "$home/bin/java" ] && [ -x "$home/bin/javac" ] || return 1
    version=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$home/release" 2>/dev/null)
    if [ -z "$version" ]; then
        version=$("$home/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)
    fi
    [ -n "$version" ] && echo "$version"
}

vmguard_find_jdk() {
    local candidate major best="" best_major=0
    if [ -n "${JAVA_HOME:-}" ]; then
        major=$(vmguard_java_major "$JAVA_HOME") || major=0
        if [ "${major:-0}" -ge "$vmguard_required_java" ]; then
            return 0
        fi
    fi
    for candidate in /usr/lib/jvm/*; do
        [ -d "$candidate" ] || continue
        major=$(vmguard_java_major "$candidate") || continue
        if [ "$major" -ge "$vmguard_required_java" ] && [ "$major" -gt "$best_major" ]; then
            best=$candidate
            best_major=$major
        fi
    done
    if [ -z "$best" ]; then
        echo "vmguard: needs a JDK $vmguard_required_java or newer; none found (JAVA_HOME=${JAVA_HOME:-unset}, /usr/lib/jvm/*). Install one and set JAVA_HOME." >&2
        exit 1
    fi
    export JAVA_HOME=$best
}

vmguard_find_jdk
