// Stock @solana/web3.js 1.x (+ @solana/spl-token) and @solana/kit against `earnest chain
// serve`, with their own calls only: node clients.mjs http://127.0.0.1:PORT
// Prints one line per step done and exits 0, or prints the error and exits 1.
import * as web3 from "@solana/web3.js";
import * as spl from "@solana/spl-token";
import * as kit from "@solana/kit";

const url = process.argv[2];
const wsUrl = url.replace(/^http/, "ws").replace(/:(\d+)$/, (_, port) => `:${Number(port) + 1}`);
const SOL = 1_000_000_000;
const MEMO = new web3.PublicKey("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr");

function check(ok, what) {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function withWeb3() {
  const connection = new web3.Connection(url, "confirmed"); // websocket: port + 1
  const payer = web3.Keypair.generate();
  const slots = [];
  const slotWatch = connection.onSlotChange((info) => slots.push(info.slot));

  const airdrop = await connection.requestAirdrop(payer.publicKey, 2 * SOL);
  const latest = await connection.getLatestBlockhash();
  const confirmed = await connection.confirmTransaction({ signature: airdrop, ...latest });
  check(confirmed.value.err === null, "airdrop confirmed without error");
  check((await connection.getBalance(payer.publicKey)) === 2 * SOL, "airdropped balance");
  console.log("web3.js: airdrop confirmed");

  const mint = await spl.createMint(connection, payer, payer.publicKey, null, 6);
  const source = await spl.getOrCreateAssociatedTokenAccount(connection, payer, mint, payer.publicKey);
  await spl.mintTo(connection, payer, mint, source.address, payer, 1_000_000n);
  const payee = web3.Keypair.generate();
  const target = await spl.getOrCreateAssociatedTokenAccount(connection, payer, mint, payee.publicKey);
  await spl.transfer(connection, payer, source.address, target.address, payer, 250_000n);
  const balance = await connection.getTokenAccountBalance(target.address);
  check(balance.value.amount === "250000" && balance.value.decimals === 6, "token balance");
  console.log("web3.js: mint created, minted, transferred");

  const memo = new web3.Transaction().add(
    new web3.TransactionInstruction({ keys: [], programId: MEMO, data: Buffer.from("earnest") }),
  );
  const memoSignature = await web3.sendAndConfirmTransaction(connection, memo, [payer]);
  // The same memo again, in another slot: a new blockhash, so a new transaction.
  const again = new web3.Transaction().add(memo.instructions[0]);
  check(
    (await web3.sendAndConfirmTransaction(connection, again, [payer])) !== memoSignature,
    "an identical memo sent later is another transaction",
  );
  console.log("web3.js: memo sent twice");

  await withToken2022(connection, payer, payee);
  await reads(connection, payer, airdrop, memoSignature);
  await lookupTableTransfer(connection, payer, payee);

  await connection.removeSlotChangeListener(slotWatch);
  check(slots.length > 0, "slot notifications");
  console.log("web3.js: slots told");
}

async function withToken2022(connection, payer, payee) {
  const program = spl.TOKEN_2022_PROGRAM_ID;
  const mint = await spl.createMint(connection, payer, payer.publicKey, payer.publicKey, 6, undefined, undefined, program);
  const source = await spl.getOrCreateAssociatedTokenAccount(connection, payer, mint, payer.publicKey, false, undefined, undefined, program);
  await spl.mintTo(connection, payer, mint, source.address, payer, 5_000_000n, [], undefined, program);
  const target = await spl.getOrCreateAssociatedTokenAccount(connection, payer, mint, payee.publicKey, false, undefined, undefined, program);
  await spl.transferChecked(connection, payer, source.address, mint, target.address, payer, 2_000_000n, 6, [], undefined, program);
  await spl.freezeAccount(connection, payer, target.address, mint, payer, [], undefined, program);
  const frozen = await spl.getAccount(connection, target.address, undefined, program);
  check(frozen.isFrozen && frozen.amount === 2_000_000n, "a frozen Token-2022 account");
  // A wallet asks both token programs for the owner's accounts.
  const [classic, extended] = await Promise.all(
    [spl.TOKEN_PROGRAM_ID, program].map((programId) =>
      connection.getParsedTokenAccountsByOwner(payee.publicKey, { programId }),
    ),
  );
  check(classic.value.length === 1 && extended.value.length === 1, "accounts under both programs");
  const info = extended.value[0].account.data.parsed.info;
  check(extended.value[0].account.data.program === "spl-token-2022", "parsed as spl-token-2022");
  check(info.state === "frozen" && info.tokenAmount.amount === "2000000", "frozen, with its amount");
  const supply = await connection.getTokenSupply(mint);
  check(supply.value.amount === "5000000", "Token-2022 supply");
  console.log("web3.js: Token-2022 mint, transferChecked, freeze, accounts by program");
}

async function reads(connection, payer, airdrop, memoSignature) {
  const parsed = await connection.getParsedTransaction(memoSignature, { maxSupportedTransactionVersion: 0 });
  check(parsed.transaction.message.instructions[0].parsed === "earnest", "parsed memo");
  check(parsed.blockTime > 1_600_000_000, "a block time");
  const signatures = await connection.getSignaturesForAddress(payer.publicKey, { limit: 3 });
  check(signatures.length === 3 && signatures.every((s) => s.err === null), "signatures for an address");
  const statuses = await connection.getSignatureStatuses([airdrop], { searchTransactionHistory: true });
  check(statuses.value[0].confirmationStatus === "finalized", "status with history");
  const block = await connection.getBlock(parsed.slot, { maxSupportedTransactionVersion: 0 });
  check(block.transactions.some((t) => t.transaction.signatures[0] === memoSignature), "the memo's block");
  const { blockhash } = await connection.getLatestBlockhash();
  const message = new web3.TransactionMessage({
    payerKey: payer.publicKey,
    recentBlockhash: blockhash,
    instructions: [new web3.TransactionInstruction({ keys: [], programId: MEMO, data: Buffer.from("simulated") })],
  }).compileToV0Message();
  const simulated = await connection.simulateTransaction(new web3.VersionedTransaction(message), {
    sigVerify: false,
    replaceRecentBlockhash: true,
  });
  check(simulated.value.err === null && simulated.value.logs.length > 0, "an unsigned simulation");
  console.log("web3.js: parsed transaction, signatures, statuses, block, simulation");
}

async function lookupTableTransfer(connection, payer, payee) {
  const slot = await connection.getSlot();
  const [create, table] = web3.AddressLookupTableProgram.createLookupTable({
    authority: payer.publicKey,
    payer: payer.publicKey,
    recentSlot: slot,
  });
  const extend = web3.AddressLookupTableProgram.extendLookupTable({
    payer: payer.publicKey,
    authority: payer.publicKey,
    lookupTable: table,
    addresses: [payee.publicKey],
  });
  const made = await web3.sendAndConfirmTransaction(connection, new web3.Transaction().add(create, extend), [payer]);
  const { slot: madeIn } = await connection.getTransaction(made, { maxSupportedTransactionVersion: 0 });
  for (let i = 0; i < 50 && (await connection.getSlot()) <= madeIn; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100)); // new entries work from the next slot
  }
  const lookup = (await connection.getAddressLookupTable(table)).value;
  check(lookup.state.addresses.length === 1, "the table's entry");
  const changes = [];
  const watch = connection.onAccountChange(payee.publicKey, (account) => changes.push(account.lamports));
  const logs = [];
  const logWatch = connection.onLogs(payee.publicKey, (entry) => logs.push(entry.signature));
  // The subscriptions are sent as the socket gets to them: a transfer may land first, so
  // each round sends another one, until both have been told (at most 5 rounds).
  const sent = [];
  for (let round = 0; round < 5 && (changes.length === 0 || logs.length === 0); round++) {
    const latest = await connection.getLatestBlockhash();
    const message = new web3.TransactionMessage({
      payerKey: payer.publicKey,
      recentBlockhash: latest.blockhash,
      instructions: [web3.SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: payee.publicKey, lamports: SOL / 100 })],
    }).compileToV0Message([lookup]);
    check(message.addressTableLookups.length === 1, "the payee comes from the table");
    const tx = new web3.VersionedTransaction(message);
    tx.sign([payer]);
    const signature = await connection.sendTransaction(tx);
    sent.push(signature);
    const confirmed = await connection.confirmTransaction({ signature, ...latest });
    check(confirmed.value.err === null, "v0 transfer confirmed");
    for (let i = 0; i < 10 && (changes.length === 0 || logs.length === 0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const balance = await connection.getBalance(payee.publicKey);
  check(changes.at(-1) === balance && balance === (sent.length * SOL) / 100, "account notifications");
  check(logs.length > 0 && logs.every((signature) => sent.includes(signature)), "logs notifications");
  await connection.removeAccountChangeListener(watch);
  await connection.removeOnLogsListener(logWatch);
  console.log("web3.js: v0 transfer through a lookup table, account and logs told");
}

async function withKit() {
  const rpc = kit.createSolanaRpc(url);
  const rpcSubscriptions = kit.createSolanaRpcSubscriptions(wsUrl);
  const payer = await kit.generateKeyPairSigner();
  const payee = await kit.generateKeyPairSigner();
  const airdrop = kit.airdropFactory({ rpc, rpcSubscriptions });
  await airdrop({ recipientAddress: payer.address, lamports: kit.lamports(BigInt(SOL)), commitment: "confirmed" });
  console.log("kit: airdrop confirmed");

  const { value: latestBlockhash } = await rpc.getLatestBlockhash().send();
  const data = new Uint8Array(12);
  const view = new DataView(data.buffer);
  view.setUint32(0, 2, true); // SystemInstruction::Transfer
  view.setBigUint64(4, 5_000_000n, true);
  const transferIx = {
    programAddress: kit.address("11111111111111111111111111111111"),
    accounts: [
      { address: payer.address, role: kit.AccountRole.WRITABLE_SIGNER, signer: payer },
      { address: payee.address, role: kit.AccountRole.WRITABLE },
    ],
    data,
  };
  const message = kit.pipe(
    kit.createTransactionMessage({ version: 0 }),
    (m) => kit.setTransactionMessageFeePayerSigner(payer, m),
    (m) => kit.setTransactionMessageLifetimeUsingBlockhash(latestBlockhash, m),
    (m) => kit.appendTransactionMessageInstruction(transferIx, m),
  );
  const signed = await kit.signTransactionMessageWithSigners(message);
  kit.assertIsTransactionWithBlockhashLifetime(signed);
  await kit.sendAndConfirmTransactionFactory({ rpc, rpcSubscriptions })(signed, { commitment: "confirmed" });
  const { value: lamports } = await rpc.getBalance(payee.address).send();
  check(lamports === 5_000_000n, "kit transfer landed");
  console.log("kit: v0 transfer sent and confirmed");
}

const deadline = setTimeout(() => {
  console.error("timed out after 60 s");
  process.exit(1);
}, 60_000);
try {
  await withWeb3();
  await withKit();
  clearTimeout(deadline);
  console.log("all done");
  process.exit(0);
} catch (error) {
  console.error(error);
  process.exit(1);
}
