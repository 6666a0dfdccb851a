// The X.509 library (@peculiar/x509) on Node's WebCrypto, and the one key type of the cluster's PKI:
// ECDSA P-256 with SHA-256 (small keys, fast handshakes, accepted by Node's TLS, gRPC and etcd's Go TLS).
// Every file that makes or reads certificates imports the library from here, so it is set up once.
// tsyringe (inside @peculiar/x509) needs a Reflect polyfill loaded before the library: this import comes first.
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

export { x509 };
export type CryptoKey = webcrypto.CryptoKey;

export const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' } as const;

export interface KeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

/** A new P-256 key pair; the private key is extractable once, to be written to its file. */
export async function newKeyPair(): Promise<KeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as KeyPair;
}

/** PKCS#8 PEM ("BEGIN PRIVATE KEY"): what Node's TLS, gRPC and Go's crypto/tls all read. */
export function privateKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A signing key from a PEM file's text (PKCS#8 or SEC1 "EC PRIVATE KEY"). Throws when it is not a P-256
 * key: the message names no key material. */
export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new Error(
      `not an ECDSA P-256 key (${key.asymmetricKeyType} ${key.asymmetricKeyDetails?.namedCurve ?? ''})`.trim(),
    );
  const der = key.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, KEY_ALGORITHM, false, ['sign']);
}

/** The public half of a private key's PEM as SubjectPublicKeyInfo DER: compared with a certificate's key to
 * tell whether the two belong together. */
export function publicKeyDerOf(privateKeyPemText: string): Buffer {
  return createPublicKey(createPrivateKey(privateKeyPemText)).export({ type: 'spki', format: 'der' });
}
