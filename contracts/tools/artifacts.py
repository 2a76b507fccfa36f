#!/usr/bin/env python3
"""Committed build artifacts for the Rust side (alloy `sol!` reads the ABI).

    artifacts.py check    compare artifacts/ with a fresh forge build in out/
    artifacts.py write    rewrite artifacts/ from out/

Each deployable contract gets artifacts/<Name>.json = {"abi": [...],
"bytecode": "0x..."} (creation code). The system contracts (PoAValidators,
PoSStaking) also get "deployedBytecode": the runtime code the node places at
0x...1000 in the genesis state, where no constructor runs. The build has no
metadata hash (foundry.toml), so the bytecode depends only on the sources and
settings.
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# MockERC20 (test/mocks/Tokens.sol) is the test token `outrigger devnet`
# lists on its L1 and the bridge tests use.
DEPLOYABLE = {
    "L1Bridge": "L1Bridge.sol",
    "SidechainBridge": "SidechainBridge.sol",
    "BridgedToken": "BridgedToken.sol",
    "MockERC20": "Tokens.sol",
    "PoAValidators": "PoAValidators.sol",
    "PoSStaking": "PoSStaking.sol",
}
# Predeployed at genesis: their artifacts also carry the runtime code.
SYSTEM = {"PoAValidators", "PoSStaking"}


def fresh(name: str, source: str) -> str:
    built = json.loads((ROOT / "out" / source / f"{name}.json").read_text())
    bytecode = built["bytecode"]["object"]
    assert bytecode.startswith("0x") and len(bytecode) > 2, f"{name}: empty bytecode"
    artifact = {"abi": built["abi"], "bytecode": bytecode}
    if name in SYSTEM:
        runtime = built["deployedBytecode"]["object"]
        assert runtime.startswith("0x") and len(runtime) > 2, f"{name}: empty deployedBytecode"
        # Runtime code is all there is at genesis: no constructor, no immutables.
        assert not built["deployedBytecode"].get("immutableReferences"), f"{name}: has immutables"
        assert not any(item["type"] == "constructor" for item in built["abi"]), f"{name}: has a constructor"
        artifact["deployedBytecode"] = runtime
    return json.dumps(artifact, indent=2) + "\n"


def main() -> int:
    mode = sys.argv[1] if len(sys.argv) > 1 else "check"
    out_dir = ROOT / "artifacts"
    stale = []
    for name, source in DEPLOYABLE.items():
        text = fresh(name, source)
        path = out_dir / f"{name}.json"
        if mode == "write":
            out_dir.mkdir(exist_ok=True)
            path.write_text(text)
            print(f"wrote artifacts/{name}.json")
        elif not path.exists() or path.read_text() != text:
            stale.append(name)
    if stale:
        print(
            f"artifacts: {', '.join(stale)} in contracts/artifacts/ do not match a fresh build of the sources;\n"
            "  run scripts/contracts.sh --update-artifacts and commit the result",
            file=sys.stderr,
        )
        return 1
    if mode != "write":
        print(f"artifacts: {', '.join(DEPLOYABLE)} match the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
