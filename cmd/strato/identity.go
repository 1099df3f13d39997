package main

import (
	"context"
	"log/slog"
	"os"

	"strato/internal/server"
)

// identityCertificate is `strato identity-certificate`: prints the certificate
// (PEM) that verifies the instance identity documents of this installation's
// metadata service, as AWS publishes one per Region. Inside an instance:
//
//	curl -s http://169.254.169.254/latest/dynamic/instance-identity/document > doc
//	curl -s http://169.254.169.254/latest/dynamic/instance-identity/signature | base64 -d > sig
//
// and with the certificate:
//
//	openssl x509 -in strato.pem -pubkey -noout > pub.pem
//	openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in doc -sigfile sig
//
// (The signature is Ed25519; .../pkcs7 is a CMS SignedData per RFC 8419, which
// OpenSSL 3.0's cms command does not verify for Ed25519.) The key is made on the
// first start and kept in the store; one key always gives the same certificate.
func identityCertificate(args []string) error {
	fs, dir := newFlags("identity-certificate")
	fs.Parse(args)
	ctx := context.Background()
	c, closeStore, err := server.OpenCloud(ctx, *dir, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer closeStore()
	signer, err := c.IdentitySigner(ctx)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(signer.CertificatePEM())
	return err
}
