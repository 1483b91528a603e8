# SPDX-License-Identifier: MIT
# Sourced by the Python script tests: $sanitizers, the runtimes of the
# sanitizers that libmpx links in a sanitizer build (./configure
# --enable-asan), which a program that is not instrumented (the interpreter)
# must load first when it loads libmpx; empty in any other build.
sanitizers=$(ldd "$MPX_LIBDIR/libmpx.so" 2> /dev/null | awk '/lib(asan|ubsan)\.so/ { print $3 }' | tr '\n' ' ')

# Preload them in this shell's environment, once.
preload_sanitizers() {
        [ -n "$sanitizers" ] || return 0
        case " ${LD_PRELOAD:-} " in
        *" ${sanitizers%% *} "*) ;;
        *) LD_PRELOAD="$sanitizers${LD_PRELOAD:+ $LD_PRELOAD}" ;;
        esac
        export LD_PRELOAD
}
