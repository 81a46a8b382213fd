//! AFL++ target `trace`: [`photolabel::fuzz_targets::trace`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::trace(data));
}
