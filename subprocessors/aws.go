package subprocessors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/convot/convot/policies"
)

// Purpose and subprocessor name of every S3 flow.
const (
	s3Subprocessor = "aws"
	s3Purpose      = "essential.service.storage"
	// s3KeyCategory is the category of an object key: an identifier of a
	// record, never personal data (callers build keys from IDs).
	s3KeyCategory = "system.operations"
)

// ErrObjectNotFound is returned by S3Blobs.Get for a key the bucket does not
// hold.
var ErrObjectNotFound = errors.New("subprocessors: object not found")

// S3Config configures an S3 blob store. Credentials come from the caller
// (the environment, a secret store); nothing is read from the process
// environment or ~/.aws here.
type S3Config struct {
	// Endpoint is the S3 endpoint URL; empty means AWS's endpoint for Region.
	// Tests and S3-compatible stores set it.
	Endpoint string
	// Region is the AWS region of the bucket, e.g. eu-central-1.
	Region string
	// DataRegion is the Convot region the bucket is in (us, eu), the flow's
	// destination. Empty: derived from Region (eu-central-1 is eu,
	// us-east-1 is us, ap-southeast-2 is ap, which the gate refuses).
	DataRegion string
	Bucket     string
	// AccessKeyID and SecretAccessKey are the static credentials; both are
	// required.
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// UsePathStyle addresses the bucket as endpoint/bucket/key instead of
	// bucket.endpoint/key (S3-compatible stores, tests).
	UsePathStyle bool
	// HTTPClient is the client requests go through; nil is the SDK's.
	HTTPClient *http.Client
}

// StorageContext declares what an object holds and whose it is: the
// organization, the data subject and the data categories of the object's
// content (user.content.attachment for an attachment, system.operations for
// an encrypted backup, ...). Get and Delete declare the same context as the
// Put of the object.
type StorageContext struct {
	Organization policies.OrgContext
	Subject      policies.SubjectContext
	Categories   []string
}

// S3Blobs is a blob store on one S3 bucket (attachments, backups). Every
// operation asks the gate first, for purpose essential.service.storage with
// the bucket's region as destination; a denied operation sends no request.
// It is safe for concurrent use.
type S3Blobs struct {
	gate       Gate
	client     *s3.Client
	bucket     string
	dataRegion string
}

// NewS3Blobs returns a blob store on cfg.Bucket. It sends nothing.
func NewS3Blobs(gate Gate, cfg S3Config) (*S3Blobs, error) {
	if gate == nil {
		return nil, errors.New("subprocessors: s3: an egress gate is required")
	}
	if cfg.Bucket == "" || cfg.Region == "" {
		return nil, errors.New("subprocessors: s3: bucket and region are required")
	}
	if cfg.AccessKeyID == "" || cfg.SecretAccessKey == "" {
		return nil, errors.New("subprocessors: s3: access key ID and secret access key are required")
	}
	dataRegion := cfg.DataRegion
	if dataRegion == "" {
		dataRegion = s3DataRegion(cfg.Region)
	}
	opts := s3.Options{
		Region:       cfg.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken),
		UsePathStyle: cfg.UsePathStyle,
		// Checksums only where S3 requires them: no aws-chunked trailers,
		// which S3-compatible stores do not all understand.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	if cfg.HTTPClient != nil {
		opts.HTTPClient = cfg.HTTPClient
	}
	return &S3Blobs{gate: gate, client: s3.New(opts), bucket: cfg.Bucket, dataRegion: dataRegion}, nil
}

// s3DataRegion maps an AWS region (eu-central-1) to a Convot region (eu).
func s3DataRegion(awsRegion string) string {
	prefix, _, _ := strings.Cut(strings.ToLower(awsRegion), "-")
	return prefix
}

// DataRegion is the Convot region of the bucket (the flows' destination).
func (b *S3Blobs) DataRegion() string { return b.dataRegion }

// authorizeObject asks the gate whether the key and content of an object
// declared by sc may go to (or be asked of) the bucket, and returns the key
// to send. The content is opaque (encrypted at rest, policy §5), so it
// leaves whole or not at all: a decision that withholds or redacts any of
// its categories refuses the operation.
func (b *S3Blobs) authorizeObject(ctx context.Context, op string, sc StorageContext, key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("subprocessors: s3 %s: empty key", op)
	}
	if len(sc.Categories) == 0 {
		return "", fmt.Errorf("subprocessors: s3 %s: the object's data categories are required", op)
	}
	categories := append([]string{s3KeyCategory}, sc.Categories...)
	d, err := authorize(ctx, b.gate, policies.Flow{
		Subprocessor:      s3Subprocessor,
		Purpose:           s3Purpose,
		Categories:        categories,
		Organization:      sc.Organization,
		Subject:           sc.Subject,
		DestinationRegion: b.dataRegion,
	})
	if err != nil {
		return "", fmt.Errorf("s3 %s: %w", op, err)
	}
	fields := map[string]policies.Field{"key": {Category: s3KeyCategory, Value: key}}
	for i, c := range sc.Categories {
		fields[fmt.Sprintf("content.%d", i)] = policies.Field{Category: c, Value: true}
	}
	allowed := policies.Apply(d, fields)
	for name, f := range fields {
		got, ok := allowed[name]
		if !ok || got.Value != f.Value {
			return "", fmt.Errorf("s3 %s: %w: the decision withholds %s from %s: %s", op, ErrDenied, f.Category, s3Subprocessor, d.Reason)
		}
	}
	return allowed["key"].Value.(string), nil
}

// Put stores size bytes read from r under key. A reader that is not an
// io.ReadSeeker is sent with an unsigned payload (its integrity rests on
// TLS), since it cannot be read twice to be hashed for the signature.
func (b *S3Blobs) Put(ctx context.Context, sc StorageContext, key string, r io.Reader, size int64) error {
	key, err := b.authorizeObject(ctx, "put", sc, key)
	if err != nil {
		return err
	}
	if size < 0 {
		return errors.New("subprocessors: s3 put: negative size")
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(b.bucket),
		Key:           aws.String(key),
		Body:          r,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/octet-stream"),
	}
	var optFns []func(*s3.Options)
	if _, seekable := r.(io.ReadSeeker); !seekable {
		optFns = append(optFns, func(o *s3.Options) {
			o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
		})
	}
	if _, err := b.client.PutObject(ctx, in, optFns...); err != nil {
		return fmt.Errorf("subprocessors: s3 put: %w", err)
	}
	return nil
}

// Get returns the content stored under key; the caller closes it. A missing
// key gives ErrObjectNotFound.
func (b *S3Blobs) Get(ctx context.Context, sc StorageContext, key string) (io.ReadCloser, error) {
	key, err := b.authorizeObject(ctx, "get", sc, key)
	if err != nil {
		return nil, err
	}
	out, err := b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)})
	if err != nil {
		if s3NotFound(err) {
			return nil, fmt.Errorf("subprocessors: s3 get: %w", ErrObjectNotFound)
		}
		return nil, fmt.Errorf("subprocessors: s3 get: %w", err)
	}
	return out.Body, nil
}

// Delete removes the object under key; deleting a missing key succeeds.
// Erasure of a restricted subject's data works: storage is the one purpose
// the gate allows for a restricted data subject.
func (b *S3Blobs) Delete(ctx context.Context, sc StorageContext, key string) error {
	key, err := b.authorizeObject(ctx, "delete", sc, key)
	if err != nil {
		return err
	}
	if _, err := b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b.bucket), Key: aws.String(key)}); err != nil {
		if s3NotFound(err) {
			return nil
		}
		return fmt.Errorf("subprocessors: s3 delete: %w", err)
	}
	return nil
}

func s3NotFound(err error) bool {
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound")
}
