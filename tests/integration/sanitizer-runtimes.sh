# SPDX-License-Identifier: MIT
# Sourced by the Python script tests: $sanitizers, the runtimes of the
# sanitizers that libmpx links in a sanitizer build (./configure
# --enable-asan), which a program that is not instrumented (the interpreter)
# must load first when it loads libmpx; empty in any other build.
#
# Worked out once, before anything is preloaded, and kept in the environment:
# with the runtimes preloaded, ldd lists them without their paths, and the
# leak checker would fail the shell's own tools (awk, tr) at their exit.
if [ -z "${MPX_SANITIZER_RUNTIMES+set}" ]; then
        MPX_SANITIZER_RUNTIMES=$(LD_PRELOAD= ldd "$MPX_LIBDIR/libmpx.so" 2> /dev/null |
                                 LD_PRELOAD= awk '/lib(asan|ubsan)\.so.* => \// { print $3 }' |
                                 LD_PRELOAD= tr '\n' ' ')
        export MPX_SANITIZER_RUNTIMES
fi
sanitizers=$MPX_SANITIZER_RUNTIMES

# Preload them in this shell's environment, once.
preload_sanitizers() {
        [ -n "$sanitizers" ] || return 0
        case " ${LD_PRELOAD:-} " in
        *" ${sanitizers%% *} "*) ;;
        *) LD_PRELOAD="$sanitizers${LD_PRELOAD:+ $LD_PRELOAD}" ;;
        esac
        export LD_PRELOAD
}
