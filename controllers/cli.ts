#!/usr/bin/env node
/**
 * `palisade`: the admin CLI (root key rotation, disaster recovery, tenant data encryption). Talks to the
 * API server with the admin's kubeconfig, and to the key service for tenant data; prints audit lines on
 * stderr.
 */
import { parseArgs } from 'node:util';
import {
  backup,
  dataDecrypt,
  dataEncrypt,
  hashSaltRotate,
  jwtSigningKeyRotate,
  restore,
  rootKeyRotate,
  type CommandContext,
} from './cli/commands.ts';
import { agentPairingCode } from './cli/agent.ts';
import { withoutIpServerNameWarning } from './runtime/warnings.ts';

export const USAGE = `palisade <command> [flags]

  root-key rotate      [--namespace palisade-system]
      add root key version N+1; the operator rewraps every tenant key and retires version N
      (refused while an installation key is missing: restore it first)
  jwt-signing-key rotate [--activate-after 65m] [--namespace palisade-system]
      add JWT signing key version N+1: published in the JWKS at once as the next key, signing from
      now + --activate-after (default: the longest token lifetime + skew); the old key stays published
      as long again (docs/keyservice.md)
  hash-salt rotate     [--overlap 720h] [--namespace palisade-system]
      add hash salt version N+1 for blind indexes and password peppers; blind indexes under version N
      are still returned beside the new ones for --overlap; old password hashes report needs-rehash
  backup  --out FILE --passphrase-file FILE [--namespace palisade-system]
      seal the installation keys (root key versions, JWT signing key, hash salt, internal CA, NATS
      seeds, the keystore) and the installation record under a passphrase
  restore --in FILE  --passphrase-file FILE [--namespace NS]
      into a fresh cluster: create them all (create-only; refuses if different keys are already there);
      into an installation missing a key (its record exists): create the missing keys from a backup of
      that same installation, leaving its keystore as it is; the waiting operator then proceeds
  data encrypt|decrypt --tenant NAME [--key primary] [--context TEXT] [--base64]
                       (--token-file FILE | --cert FILE --cert-key FILE)
                       [--server HOST:PORT] [--ca-file FILE] [--server-name NAME]
                       [--operator-namespace palisade-system]
      stdin → stdout through the key service (docs/keyservice.md), as the identity of the token or
      certificate (a KeyAccessPolicy must allow it): the TenantKey's active version (encrypt) or the
      version the ciphertext names (decrypt). --server defaults to $PALISADE_KEYSERVICE, then
      palisade-keyservice.<operator-namespace>.svc:8443; the CA bundle to the operator namespace's
      ConfigMap palisade-ca-bundle. The CLI reads no key.

  agent pairing-code --namespace NS --agent NAME [--new]
      print the ClusterAgent's current pairing code with its ID, expiry and the CA pin the agent checks
      (from the Secret <name>-pairing-code, shown while the code can be used); --new asks for a new code
      (sets spec.pairing.requestedAt) and waits for it (docs/agents.md)

  common: --kubeconfig PATH (default $KUBECONFIG, then ~/.kube/config)
`;

const COMMANDS: Record<string, (c: CommandContext) => Promise<void>> = {
  'root-key rotate': rootKeyRotate,
  'jwt-signing-key rotate': jwtSigningKeyRotate,
  'hash-salt rotate': hashSaltRotate,
  backup,
  restore,
  'data encrypt': dataEncrypt,
  'data decrypt': dataDecrypt,
  'agent pairing-code': agentPairingCode,
};

export async function runCli(argv: string[], io: Omit<CommandContext, 'flags'>): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      tenant: { type: 'string' },
      server: { type: 'string' },
      'server-name': { type: 'string' },
      'ca-file': { type: 'string' },
      'token-file': { type: 'string' },
      cert: { type: 'string' },
      'cert-key': { type: 'string' },
      'operator-namespace': { type: 'string' },
      key: { type: 'string' },
      context: { type: 'string' },
      base64: { type: 'boolean' },
      out: { type: 'string' },
      in: { type: 'string' },
      'passphrase-file': { type: 'string' },
      'activate-after': { type: 'string' },
      overlap: { type: 'string' },
      agent: { type: 'string' },
      new: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  const command = COMMANDS[positionals.join(' ')];
  if (values.help || !command) {
    io.stderr(USAGE);
    return values.help ? 0 : 2;
  }
  await command({ ...io, flags: values });
  return 0;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

if (import.meta.main) {
  withoutIpServerNameWarning();
  runCli(process.argv.slice(2), {
    stdin: readStdin,
    stdout: (b) => process.stdout.write(b),
    stderr: (s) => process.stderr.write(s),
  }).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`palisade: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
