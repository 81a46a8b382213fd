//! AFL++ target `thumbnail`: [`photolabel::fuzz_targets::thumbnail`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::thumbnail(data));
}
