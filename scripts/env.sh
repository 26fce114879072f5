# Sourced by the other scripts: puts the tools scripts/ensure-tools installs on PATH.
export PATH="$HOME/.cargo/bin:$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/end2end/node_modules/.bin:$PATH"
