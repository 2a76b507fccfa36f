#!/usr/bin/env python3
"""Gas table from the receipts of script/GasReport.s.sol runs on anvil.

    gas_report.py N-T:run.json [N-T:run.json ...]   prints a markdown table
"""
import json
import sys


def gas_by_step(path: str, t: int) -> dict:
    run = json.load(open(path))
    receipts = {r["transactionHash"]: r for r in run["receipts"]}
    steps: dict = {}
    for tx in run["transactions"]:
        r = receipts[tx["hash"]]
        assert int(r["status"], 16) == 1, f"{path}: {tx.get('function')} failed"
        fn = (tx.get("function") or "").split("(")[0]
        steps.setdefault(fn, []).append(int(r["gasUsed"], 16))
    c = steps["confirmDeposit"]
    assert len(c) == 2 * t, "two deposits, t votes each"
    return {
        "depositETH (L1, lock ETH)": steps["depositETH"][0],
        "depositERC20 (L1, lock token)": steps["depositERC20"][1],
        "confirmDeposit, first vote (sidechain)": c[t],
        "confirmDeposit, later vote below threshold": c[t + 1] if t > 2 else c[t],
        "confirmDeposit, threshold vote: executes, mints": c[2 * t - 1],
        "confirmDeposit, threshold vote on a token's first deposit (deploys its BridgedToken)": c[t - 1],
        "all votes of one deposit (relayers' total)": sum(c[t:]),
        "withdraw (sidechain, burn)": steps["withdraw"][0],
        "submitSignature, per relayer": max(steps["submitSignature"][1:]),
        "all submitSignature of one withdrawal": sum(steps["submitSignature"]),
        "finalizeWithdrawal (L1, t signatures, release token)": steps["finalizeWithdrawal"][0],
    }


def main() -> int:
    cols = []
    for arg in sys.argv[1:]:
        label, path = arg.split(":", 1)
        n, t = map(int, label.split("-"))
        cols.append((f"{t}-of-{n}", gas_by_step(path, t)))
    rows = list(cols[0][1])
    print("| transaction (gasUsed from the receipt) | " + " | ".join(c[0] for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for row in rows:
        print(f"| {row} | " + " | ".join(f"{c[1][row]:,}" for c in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
