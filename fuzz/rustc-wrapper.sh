#!/usr/bin/env bash
# RUSTC_WRAPPER for the instrumented build (see README.md): cargo-afl compiles every crate of
# the tree with AFL's coverage instrumentation, one codegen unit and opt-level 3, which takes
# most of an hour for burn/wgpu on two cores. Only the crates that parse outside data need the
# instrumentation; every other crate (the model runtime, GPU stack, SQLite, proc-macros, build
# scripts) is compiled here without it and at opt-level 1. Their code is never reached by a
# fuzz target, so coverage is the same and AFL's feedback unchanged.
rustc="$1"
shift
name=""
prev=""
for a in "$@"; do
    if [[ $prev == --crate-name ]]; then
        name=$a
        break
    fi
    prev=$a
done
case "$name" in
    photolabel | photolabel_fuzz | fuzz_* | afl | image | jpeg_decoder | zune_jpeg | zune_core | \
        png | fdeflate | gif | weezl | tiff | image_webp | exif | quick_xml | serde_json | \
        flate2 | miniz_oxide | zlib_rs | libz_rs_sys | memchr | unicode_normalization | \
        byteorder_lite | color_quant | bytemuck | half | ryu | itoa | quick_error)
        exec "$rustc" "$@"
        ;;
esac
args=()
skip=0
for a in "$@"; do
    if ((skip)); then
        skip=0
        case "$a" in
            passes=sancov* | llvm-args=-sanitizer-coverage* | codegen-units=1 | debug-assertions | overflow_checks) ;;
            opt-level=3) args+=(-C opt-level=1) ;;
            *) args+=(-C "$a") ;;
        esac
        continue
    fi
    if [[ $a == -C ]]; then
        skip=1
        continue
    fi
    args+=("$a")
done
exec "$rustc" "${args[@]}"
