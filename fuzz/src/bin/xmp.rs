//! AFL++ target `xmp`: [`photolabel::fuzz_targets::xmp`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::xmp(data));
}
