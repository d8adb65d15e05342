/*
 * spiffe_mbedtls_config.h - mbedTLS 3.6 built with only what libspiffe
 * uses: TLS 1.2 and 1.3 (client and server), X.509 parsing, verification
 * and writing, ECDSA P-256/384/521, RSA PKCS#1 v1.5 and PSS, SHA-2,
 * AES-GCM and ChaCha20-Poly1305, HKDF, PEM and base64, CTR-DRBG with the
 * platform entropy source (getrandom), AES-NI where the target has it.
 *
 * Selected with -DMBEDTLS_CONFIG_FILE="spiffe_mbedtls_config.h".
 */
#ifndef SPIFFE_MBEDTLS_CONFIG_H
#define SPIFFE_MBEDTLS_CONFIG_H

/* System */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_FS_IO
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD
#define MBEDTLS_ERROR_C
#define MBEDTLS_VERSION_C

/* Symmetric ciphers and AEADs */
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C
#define MBEDTLS_CIPHER_C

/* Hashes, KDFs, random */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA1_C      /* subject key identifiers only; not a sig alg */
#define MBEDTLS_SHA224_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_HMAC_DRBG_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_ENTROPY_C

/* Public key */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED
#define MBEDTLS_ECP_DP_SECP521R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED /* X25519 key exchange */
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C

/* Encodings and X.509 */
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_OID_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C
#define MBEDTLS_X509_TRUSTED_CERTIFICATE_CALLBACK /* tls.c: SPIFFE verify */
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT
#define MBEDTLS_X509_CREATE_C
#define MBEDTLS_X509_CRT_WRITE_C

/* TLS; no session tickets, no cache, no renegotiation: every handshake
 * runs SPIFFE verification and authorization again. */
#define MBEDTLS_PSA_CRYPTO_C
/* A key store that grows: each TLS 1.3 handshake in flight holds a PSA
 * key (its ephemeral ECDHE share, from ClientHello to ServerHello on a
 * client), and the static store's 32 slots failed the 33rd concurrent
 * handshake with "out of memory" (a proxy with many upstream workers). */
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_ALPN
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_ALL_ALERT_MESSAGES
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH
/*
 * Record buffers.  Input stays at the TLS maximum (peers send 16 KiB
 * records and few honour max_fragment_length or record_size_limit);
 * output records are ours to size: 4 KiB halves a connection's buffer
 * memory, still holds our whole handshake flight (an SVID chain up to
 * about 3.5 KiB), and costs only a record header per 4 KiB of a large
 * response.  Measured in tls.c's notes.
 */
#define MBEDTLS_SSL_IN_CONTENT_LEN 16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN 4096

#endif
