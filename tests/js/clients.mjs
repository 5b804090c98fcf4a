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

  await connection.removeSlotChangeListener(slotWatch);
  check(slots.length > 0, "slot notifications");
  console.log("web3.js: slots told");
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
