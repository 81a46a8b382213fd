//! AFL++ target `onnx`: [`photolabel::fuzz_targets::onnx`] on each input (persistent mode).

fn main() {
    afl::fuzz!(|data: &[u8]| photolabel::fuzz_targets::onnx(data));
}
