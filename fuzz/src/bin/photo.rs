//! AFL++ target `photo`: [`photolabel::fuzz_targets::photo`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::photo(data));
}
