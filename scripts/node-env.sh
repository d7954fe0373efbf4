# Sourced by ./platform, scripts/setup.sh and scripts/test-all.sh: the project's Node.js (scripts/install/node.sh)
# goes first on PATH, so npm, npx, jest, ts-node and the Pulumi language host all run on the pinned Node 22.
_node_bin=$(bash "$(dirname "${BASH_SOURCE[0]}")/install/node.sh") || { echo "could not install the project's Node.js (scripts/install/node.sh)" >&2; exit 1; }
case ":$PATH:" in *":$_node_bin:"*) ;; *) export PATH="$_node_bin:$PATH" ;; esac
unset _node_bin
