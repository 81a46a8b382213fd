//! AFL++ target `query`: [`photolabel::fuzz_targets::query`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::query(data));
}
