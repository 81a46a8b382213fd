//! AFL++ target `tfjs`: [`photolabel::fuzz_targets::tfjs`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::tfjs(data));
}
