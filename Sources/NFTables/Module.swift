// NFTables module
