INSERT INTO {{ table }}
{{ query }}
