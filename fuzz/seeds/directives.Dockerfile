#syntax = example.com/frontend:1  
# ESCAPE = \
# check = error=true
# unknown=directive
# escape=`
FROM alpine
# syntax=not-a-directive-anymore
RUN echo done
