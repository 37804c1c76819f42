package tokenstore

// Indexes pass through an encrypted store unchanged: their names and
// members are not secrets (Indexer says so), and a sealed member could not be
// listed back as the caller wrote it.

// encryptedIndexer is an encrypted store, with or without Locker, whose
// inner store is an Indexer: the Indexer's methods are the inner store's.
type encryptedIndexer struct {
	Store
	Indexer
}

// encryptedLockerIndexer is encryptedIndexer over a Locker.
type encryptedLockerIndexer struct {
	*encryptedLocker
	Indexer
}

var (
	_ Indexer = encryptedIndexer{}
	_ Indexer = encryptedLockerIndexer{}
	_ Locker  = encryptedLockerIndexer{}
)

// withIndexer returns s, the encrypted store over inner, as an Indexer when
// inner is one.
func withIndexer(s Store, inner Store) Store {
	x, ok := inner.(Indexer)
	if !ok {
		return s
	}
	if l, ok := s.(*encryptedLocker); ok {
		return encryptedLockerIndexer{encryptedLocker: l, Indexer: x}
	}
	return encryptedIndexer{Store: s, Indexer: x}
}
