"""Makes the test wallets in chain/tests/data/wallets with the real bittensor-wallet package.

    python3 -m venv /tmp/btw && /tmp/btw/bin/pip install bittensor-wallet
    /tmp/btw/bin/python scripts/make_test_wallets.py

`rehearsal`: coldkey encrypted ($NACL) with the password "regpow test password", hotkeys
miner1, miner2 and miner3 unencrypted. `open`: an unencrypted coldkey and hotkey miner1.
These keys are for tests only: their secrets are public in this repository.
"""

import os
import sys

from bittensor_wallet import Wallet

ROOT = os.path.join(os.path.dirname(__file__), "..", "solver", "tests", "data", "wallets")
PASSWORD = "regpow test password"


def main() -> int:
    w = Wallet(name="rehearsal", hotkey="miner1", path=ROOT)
    w.create_new_coldkey(n_words=12, use_password=True, overwrite=True, suppress=True,
                         save_coldkey_to_env=False, coldkey_password=PASSWORD)
    for hotkey in ("miner1", "miner2", "miner3"):
        Wallet(name="rehearsal", hotkey=hotkey, path=ROOT).create_new_hotkey(
            n_words=12, use_password=False, overwrite=True, suppress=True)
    o = Wallet(name="open", hotkey="miner1", path=ROOT)
    o.create_new_coldkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    o.create_new_hotkey(n_words=12, use_password=False, overwrite=True, suppress=True)
    print("rehearsal coldkey", w.coldkeypub.ss58_address)
    print("open coldkey", o.coldkeypub.ss58_address)
    return 0


if __name__ == "__main__":
    sys.exit(main())
